import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  collect,
  parseCopyLocation,
  parseDuration,
  parseEnvFile,
  parseEnvFlag,
  parseFileSpec,
  parseInteger,
  parseKeyValue,
  parseOctalMode,
  parsePortSpec,
  parsePositiveNumber,
  parseSince,
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

describe('parseOctalMode', () => {
  it('takes three octal digits, optionally with a leading 0', () => {
    expect(parseOctalMode('644')).toBe(0o644);
    expect(parseOctalMode('0755')).toBe(0o755);
  });
  it.each(['4755', '888', '64', 'rw', ''])('refuses %j', (raw) => {
    expect(() => parseOctalMode(raw)).toThrow(InvalidArgumentError);
  });
});

describe('parseDuration', () => {
  it('reads milliseconds and units', () => {
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('250ms')).toBe(250);
  });
  it.each(['', 'soon', '-1', '0', '5w'])('refuses %j', (raw) => {
    expect(() => parseDuration(raw)).toThrow(InvalidArgumentError);
  });
});

describe('parseSince', () => {
  const now = () => new Date('2024-05-01T12:00:00Z');
  it('reads Unix seconds, ISO times and ages', () => {
    expect(parseSince('1714564800', now)).toBe(1714564800);
    expect(parseSince('2024-05-01T11:00:00Z', now)).toBe(Date.parse('2024-05-01T11:00:00Z') / 1000);
    expect(parseSince('10m', now)).toBe(Date.parse('2024-05-01T11:50:00Z') / 1000);
    expect(parseSince('1d', now)).toBe(Date.parse('2024-04-30T12:00:00Z') / 1000);
  });
  it.each(['yesterday', '12', '2024-13-45', '10x'])('refuses %j', (raw) => {
    expect(() => parseSince(raw, now)).toThrow(InvalidArgumentError);
  });
});

describe('parseCopyLocation', () => {
  it('tells workspace paths from local ones as docker cp does', () => {
    expect(parseCopyLocation('agent-1:/workspace/src')).toEqual({
      kind: 'remote',
      workspace: 'agent-1',
      path: '/workspace/src',
    });
    expect(parseCopyLocation('ws_abc123:out')).toEqual({
      kind: 'remote',
      workspace: 'ws_abc123',
      path: 'out',
    });
    expect(parseCopyLocation('w:')).toEqual({ kind: 'remote', workspace: 'w', path: '' });
    expect(parseCopyLocation('./a:b')).toEqual({ kind: 'local', path: './a:b' });
    expect(parseCopyLocation('/tmp/a:b')).toEqual({ kind: 'local', path: '/tmp/a:b' });
    expect(parseCopyLocation('file.txt')).toEqual({ kind: 'local', path: 'file.txt' });
    expect(parseCopyLocation('-')).toEqual({ kind: 'local', path: '-' });
  });
  it('refuses what is neither', () => {
    expect(() => parseCopyLocation('Bad_Name:x')).toThrow(/\.\/Bad_Name:x/);
    expect(() => parseCopyLocation('')).toThrow(InvalidArgumentError);
  });
});
