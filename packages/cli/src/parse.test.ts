import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  collect,
  parseEnvFile,
  parseEnvFlag,
  parseFileSpec,
  parseInteger,
  parseKeyValue,
  parsePortSpec,
  parsePositiveNumber,
  parseStatusList,
  parseTier,
} from './parse.js';

describe('parseKeyValue', () => {
  it('splits at the first =, keeping empty values and later =', () => {
    expect(parseKeyValue('team=infra')).toEqual(['team', 'infra']);
    expect(parseKeyValue('A=')).toEqual(['A', '']);
    expect(parseKeyValue('URL=http://x/?a=b')).toEqual(['URL', 'http://x/?a=b']);
  });
  it.each(['novalue', '=x', ''])('refuses %j', (raw) => {
    expect(() => parseKeyValue(raw)).toThrow(InvalidArgumentError);
  });
});

describe('parseEnvFlag', () => {
  it('takes KEY=VALUE or a bare KEY to copy from the environment', () => {
    expect(parseEnvFlag('A=1')).toEqual({ key: 'A', value: '1' });
    expect(parseEnvFlag('TOKEN')).toEqual({ key: 'TOKEN', value: undefined });
    expect(() => parseEnvFlag('=1')).toThrow(InvalidArgumentError);
  });
});

describe('parseEnvFile', () => {
  it('reads dotenv-style lines', () => {
    const text = [
      '# comment',
      '',
      'A=1',
      'export B = two words ',
      "C='single $quoted'",
      'D="line\\nbreak \\"q\\""',
      'E=',
      'F=a=b',
    ].join('\n');
    expect(parseEnvFile(text)).toEqual({
      A: '1',
      B: 'two words',
      C: 'single $quoted',
      D: 'line\nbreak "q"',
      E: '',
      F: 'a=b',
    });
  });
  it('names the file and line of a bad entry', () => {
    expect(() => parseEnvFile('A=1\nnot a pair\n', '.env')).toThrow('.env:2: expected KEY=VALUE');
  });
});

describe('parsePortSpec', () => {
  it('takes a bare port or port:name', () => {
    expect(parsePortSpec('3000')).toBe(3000);
    expect(parsePortSpec('8080:web')).toEqual({ port: 8080, name: 'web' });
  });
  it.each(['0', '65536', 'http', '80:', '-1', '3000.5', ':web'])('refuses %j', (raw) => {
    expect(() => parsePortSpec(raw)).toThrow(InvalidArgumentError);
  });
});

describe('parseFileSpec', () => {
  it('reads @ as a local file and anything else as text', () => {
    expect(parseFileSpec('config.yaml=@./local.yaml')).toEqual({
      path: 'config.yaml',
      source: { kind: 'local', path: './local.yaml' },
    });
    expect(parseFileSpec('motd=hello = world')).toEqual({
      path: 'motd',
      source: { kind: 'text', text: 'hello = world' },
    });
    expect(parseFileSpec('empty=')).toEqual({ path: 'empty', source: { kind: 'text', text: '' } });
  });
  it.each(['nopath', '=text', 'x=@'])('refuses %j', (raw) => {
    expect(() => parseFileSpec(raw)).toThrow(InvalidArgumentError);
  });
});

describe('number parsers', () => {
  it('parseInteger checks whole numbers and ranges', () => {
    expect(parseInteger('512', 1)).toBe(512);
    expect(parseInteger('0', 0, 65535)).toBe(0);
    expect(() => parseInteger('1.5', 1)).toThrow('whole number >= 1');
    expect(() => parseInteger('201', 1, 200)).toThrow('1-200');
    expect(() => parseInteger('', 1)).toThrow(InvalidArgumentError);
  });
  it('parsePositiveNumber allows fractions', () => {
    expect(parsePositiveNumber('0.5')).toBe(0.5);
    expect(() => parsePositiveNumber('0')).toThrow(InvalidArgumentError);
    expect(() => parsePositiveNumber('x')).toThrow(InvalidArgumentError);
  });
  it('parseTier accepts 1-4 only', () => {
    expect(parseTier('3')).toBe(3);
    expect(() => parseTier('5')).toThrow(InvalidArgumentError);
    expect(() => parseTier('2.0')).toThrow(InvalidArgumentError);
  });
});

describe('parseStatusList', () => {
  it('splits and validates statuses', () => {
    expect(parseStatusList('running, failed')).toEqual(['running', 'failed']);
    expect(() => parseStatusList('running,sleeping')).toThrow('"sleeping"');
    expect(() => parseStatusList(',')).toThrow(InvalidArgumentError);
  });
});

describe('collect', () => {
  it('accumulates repeated values', () => {
    const add = collect(parsePortSpec);
    expect(add('81:b', add('80', undefined))).toEqual([80, { port: 81, name: 'b' }]);
  });
});
