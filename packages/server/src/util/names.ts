import { randomInt } from 'node:crypto';
import { randomBase32 } from './ids.js';

const ADJECTIVES = (
  'able agile amber bold brave bright brisk calm clever cosmic crisp curious daring deft eager early ' +
  'fancy fearless fleet fond gentle glad golden grand happy hardy jolly keen kind lively lucky mellow ' +
  'merry mighty nimble noble plucky polite proud quick quiet rapid ready regal rosy rustic sharp shiny ' +
  'silent sleek smart snappy solid spry steady stellar sturdy sunny swift tidy trusty vivid warm witty zesty'
).split(' ');

const NOUNS = (
  'albatross antelope badger beaver bison cheetah condor coral cougar crane dolphin eagle falcon ferret ' +
  'finch fox gazelle gecko heron ibis jaguar kestrel koala lark lemur lion lynx marlin marmot mink moose ' +
  'narwhal newt ocelot orca osprey otter owl panda panther pelican penguin petrel puffin quail raven ' +
  'robin salmon seal shark sparrow stork swan tapir tern tiger toucan trout turtle viper walrus wolf wren yak'
).split(' ');

const pick = (words: string[]): string => words[randomInt(words.length)] ?? words[0] ?? 'x';

/** A human-friendly name like `brave-otter`. */
export function adjectiveNoun(): string {
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
}

/**
 * Generates a name not rejected by `isTaken`: a few plain adjective-noun tries, then with a short
 * random suffix (`brave-otter-7kq2`), which makes collisions practically impossible.
 */
export async function generateUniqueName(isTaken: (name: string) => Promise<boolean>): Promise<string> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const name = attempt < 4 ? adjectiveNoun() : `${adjectiveNoun()}-${randomBase32(4)}`;
    if (!(await isTaken(name))) return name;
  }
  return `${adjectiveNoun()}-${randomBase32(8)}`;
}
