/*
 * etsy's statsd 0.9 calls util.log, which Node 23 removed. Preloaded (-r) by
 * bench/statsd.ts so etsy's daemon runs on the same Node as Tributary.
 */
const util = require('util');
if (typeof util.log !== 'function') {
  util.log = (...args) => console.log(new Date().toISOString(), '-', util.format(...args));
}
