// What the dashboard tests share: a run record and metric rows to put in a store without training, a raw HTTP GET
// (fetch would normalise '..' away before it is sent), and an SSE reader that resolves on the first matching event.
import { request } from 'node:http';
import type { MetricRow } from '../../src/analysis/records.ts';
import type { NewRun } from '../../src/store/store.ts';

export function fakeRun(id: string, over: Partial<NewRun> = {}): NewRun {
  return {
    id,
    name: `d1-b8-${id}`,
    sweep: 'live',
    model: { nLayer: 1, dModel: 64, nHead: 1, vocab: 256, context: 16 },
    paramsKaplan: 49_152,
    paramsTotal: 66_560,
    batchSize: 8,
    context: 16,
    batchTokens: 128,
    lr: 3e-3,
    seed: 0,
    schedule: 'cosine',
    data: 'gutenberg/byte',
    spec: { note: 'a run put by the dashboard tests' },
    ...over,
  };
}

export function fakeRow(step: number, testLoss?: number): MetricRow {
  return {
    step,
    tokens: step * 128,
    flops: step * 128 * 6 * 49_152,
    trainLoss: 5 / Math.sqrt(step),
    lr: 3e-3,
    gradNorm: 1,
    wallMs: step * 10,
    ...(testLoss !== undefined && { testLoss }),
  };
}

export interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => { error?: string; hint?: string; [k: string]: unknown };
}

/** GET (or another method) with the path sent as given. */
export function raw(port: number, path: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens /events and resolves with the first event of `type` whose data passes `pick` (rejects after timeoutMs). */
export function nextEvent(
  port: number,
  type: string,
  pick: (data: any) => boolean,
  timeoutMs = 5000,
  query = '',
): { ready: Promise<void>; event: Promise<any>; close: () => void } {
  let close = () => {};
  let onReady = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  const event = new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => {
      close();
      reject(new Error(`no '${type}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = request({ host: '127.0.0.1', port, path: `/events${query}` }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let end: number;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (ev === 'hello') onReady();
          if (ev === type && data !== undefined && pick(JSON.parse(data))) {
            clearTimeout(timer);
            close();
            resolve(JSON.parse(data));
          }
        }
      });
    });
    req.on('error', () => {});
    close = () => req.destroy();
    req.end();
  });
  return { ready, event, close: () => close() };
}
