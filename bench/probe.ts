/**
 * Preloaded with `node --require dist/bench/probe.js ...` into a process being measured (the CLI). Samples
 * RSS every 25 ms and, at exit, writes to $BENCH_PROBE_OUT the process's CPU time, the kernel's peak RSS
 * (`process.resourceUsage().maxRSS`, which no sampling can miss) and the sampled peaks of RSS, heap and
 * external memory.
 */
import { writeFileSync } from 'node:fs';

const out = process.env['BENCH_PROBE_OUT'];
if (out) {
  const t0 = performance.now();
  const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
  const timeline: [number, number][] = [];
  let samples = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    samples++;
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
    if (samples % 20 === 1) timeline.push([Math.round(performance.now() - t0), Math.round(m.rss / 1048576)]);
  };
  setInterval(sample, 25).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(
      out,
      JSON.stringify({
        maxRssKiB: process.resourceUsage().maxRSS,
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
        sampledPeakBytes: peak,
        samples,
        durationMs: performance.now() - t0,
        timelineMsMiB: timeline,
      }),
    );
  });
}
