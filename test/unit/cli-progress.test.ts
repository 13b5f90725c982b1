/** The progress helper: a redrawn bar on a terminal, plain lines elsewhere, nothing in --json. */
import { describe, expect, it } from 'vitest';
import { progress } from '../../deploy/cli/progress.js';

function streams(tty: boolean) {
  const err: string[] = [];
  const out: string[] = [];
  const stream = {
    isTTY: tty,
    columns: 200,
    write: (s: string) => err.push(s) > 0,
  } as unknown as NodeJS.WriteStream;
  const outStream = { write: (s: string) => out.push(s) > 0 } as unknown as NodeJS.WritableStream;
  return { err, out, stream, outStream };
}

describe('progress', () => {
  it('off a terminal: one plain line per noted step, results on stdout, no escapes', () => {
    const s = streams(false);
    const p = progress({
      total: 3,
      label: 'profiling',
      enabled: true,
      stream: s.stream,
      out: s.outStream,
    });
    p.tick('a.json: succeeded');
    p.tick();
    p.print('result line');
    p.tick('c.json: failed');
    p.note('training');
    p.done();
    p.tick('after the end');
    expect(s.err).toEqual(['[1/3] a.json: succeeded\n', '[3/3] c.json: failed\n', 'training\n']);
    expect(s.out).toEqual(['result line\n']);
    expect(s.err.join('')).not.toContain('\x1b');
  });

  it('on a terminal: redraws one bar in place and clears it around results and at the end', () => {
    const s = streams(true);
    let t = 0;
    const p = progress({
      total: 4,
      label: 'runs',
      enabled: true,
      stream: s.stream,
      out: s.outStream,
      now: () => (t += 1000),
    });
    p.tick('first');
    p.tick();
    p.print('kept');
    p.done();
    // eslint-disable-next-line no-control-regex -- the escape that clears the line is the point
    expect(s.err[0]).toMatch(/^\r\x1b\[2Kruns \[#{6}-{18}\] 1\/4 \d+s {2}first$/);
    // eslint-disable-next-line no-control-regex -- as above
    expect(s.err[1]).toMatch(/^\r\x1b\[2Kruns \[#{12}-{12}\] 2\/4 /);
    expect(s.err.at(-1)).toBe('\r\x1b[2K');
    expect(s.out).toEqual(['kept\n']);
  });

  it('disabled (--json): writes nothing on stderr', () => {
    for (const tty of [true, false]) {
      const s = streams(tty);
      const p = progress({
        total: 2,
        label: 'x',
        enabled: false,
        stream: s.stream,
        out: s.outStream,
      });
      p.tick('note');
      p.tick('note');
      p.done();
      expect(s.err).toEqual([]);
    }
  });

  it('with plainLines false, off a terminal the command’s own lines are the progress', () => {
    const s = streams(false);
    const p = progress({
      total: 0,
      label: 'bench',
      enabled: true,
      plainLines: false,
      stream: s.stream,
      out: s.outStream,
    });
    p.print('step one');
    p.tick('step one');
    p.done();
    expect(s.err).toEqual([]);
    expect(s.out).toEqual(['step one\n']);
  });
});
