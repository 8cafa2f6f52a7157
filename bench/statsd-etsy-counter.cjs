/*
 * A backend for etsy's statsd used by bench/statsd.ts: it sends nothing
 * anywhere, and only adds up `statsd.metrics_received` (lines received) at
 * each flush, reporting the running total through the management console's
 * `stats` command as `benchcounter.lines_total`.
 */
let total = 0;
exports.init = function (startupTime, config, events) {
  events.on('flush', function (ts, metrics) {
    total += metrics.counters['statsd.metrics_received'] || 0;
  });
  events.on('status', function (write) {
    write(null, 'benchcounter', 'lines_total', total);
  });
  return true;
};
