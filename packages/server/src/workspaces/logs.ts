import type { LogLine } from '@berth/protocol';
import type { OutputChunk } from '../engine/types.js';

/**
 * Turns the engine's log frames into lines, keeping stdout and stderr apart and in the order the
 * engine recorded them. With timestamps, each line starts with the engine's RFC 3339 time. A line
 * split across frames is joined; one longer than `maxLineBytes` is cut into pieces.
 */
export async function* logLines(
  frames: AsyncIterable<OutputChunk> | Iterable<OutputChunk>,
  options: { timestamps: boolean; maxLineBytes?: number },
): AsyncIterable<LogLine> {
  const max = options.maxLineBytes ?? 64 * 1024;
  const partial: Record<OutputChunk['stream'], string> = { stdout: '', stderr: '' };
  const toLine = (stream: OutputChunk['stream'], raw: string): LogLine => {
    if (options.timestamps) {
      const space = raw.indexOf(' ');
      if (space > 0 && /^\d{4}-\d\d-\d\dT/.test(raw)) {
        return { stream, time: raw.slice(0, space), text: raw.slice(space + 1) };
      }
    }
    return { stream, text: raw };
  };
  for await (const frame of frames) {
    let text = partial[frame.stream] + frame.data.toString('utf8');
    let newline: number;
    while ((newline = text.indexOf('\n')) >= 0) {
      yield toLine(frame.stream, text.slice(0, newline).replace(/\r$/, ''));
      text = text.slice(newline + 1);
    }
    while (text.length > max) {
      yield toLine(frame.stream, text.slice(0, max));
      text = text.slice(max);
    }
    partial[frame.stream] = text;
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    if (partial[stream]) yield toLine(stream, partial[stream]);
  }
}
