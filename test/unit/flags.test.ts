import { describe, expect, it } from 'vitest';
import { parseArgs, parseFlags } from '../../shared/flags.js';

describe('parseArgs', () => {
  it('reads --key value', () => {
    expect(parseArgs(['--port', '8080'])).toEqual({ flags: { port: '8080' }, positional: [] });
  });

  it('reads --key=value, keeping any further = in the value', () => {
    expect(parseArgs(['--input={"a":1}', '--expr=a=b']).flags).toEqual({
      input: '{"a":1}',
      expr: 'a=b',
    });
  });

  it('reads --key= as an empty string', () => {
    expect(parseArgs(['--token=']).flags).toEqual({ token: '' });
  });

  it('sets a bare flag to true when the next argument is another flag or there is none', () => {
    expect(parseArgs(['--demo', '--port', '1', '--json']).flags).toEqual({
      demo: true,
      port: '1',
      json: true,
    });
  });

  it('turns kebab-case keys into camelCase', () => {
    expect(
      parseArgs(['--master-url', 'http://127.0.0.1:1', '--max-concurrency-per-function=3']).flags,
    ).toEqual({
      masterUrl: 'http://127.0.0.1:1',
      maxConcurrencyPerFunction: '3',
    });
  });

  it('keeps positional arguments in order around flags', () => {
    expect(parseArgs(['deploy', '--port', '1', 'file.yaml', 'extra'])).toEqual({
      flags: { port: '1' },
      positional: ['deploy', 'file.yaml', 'extra'],
    });
  });

  it('takes a value that starts with a single dash', () => {
    expect(parseArgs(['--offset', '-5']).flags).toEqual({ offset: '-5' });
  });

  it('does not let a declared boolean eat the next positional', () => {
    expect(
      parseArgs(['--json', 'workflow.yaml', '--no-wait', 'x'], new Set(['json', 'noWait'])),
    ).toEqual({
      flags: { json: true, noWait: true },
      positional: ['workflow.yaml', 'x'],
    });
  });

  it('still reads --boolean=value for a declared boolean', () => {
    expect(parseArgs(['--json=false'], new Set(['json'])).flags).toEqual({ json: 'false' });
  });

  it('treats everything after -- as positional, flags included', () => {
    expect(parseArgs(['--port', '1', '--', '--not-a-flag', 'x'])).toEqual({
      flags: { port: '1' },
      positional: ['--not-a-flag', 'x'],
    });
  });

  it('does not take -- as the value of the flag before it', () => {
    expect(parseArgs(['--demo', '--', 'a'])).toEqual({ flags: { demo: true }, positional: ['a'] });
  });

  it('lets a later occurrence of a flag win', () => {
    expect(parseArgs(['--port', '1', '--port=2']).flags).toEqual({ port: '2' });
  });
});

describe('parseFlags', () => {
  it('returns only the flags', () => {
    expect(parseFlags(['serve', '--host', '127.0.0.1', '--verbose'])).toEqual({
      host: '127.0.0.1',
      verbose: true,
    });
  });
});
