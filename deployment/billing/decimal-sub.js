#!/usr/bin/env node
// `node decimal-sub.js A B` prints A - B for decimal strings, exactly (BigInt at 18 fractional digits):
// the go-live checks compare credits, and neither bash nor jq has exact decimals.
const scale = (s) => {
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new Error(`not a decimal: ${s}`);
  const [i, f = ''] = s.replace(/^-/, '').split('.');
  const v = BigInt(i + f.padEnd(18, '0').slice(0, 18));
  return s.startsWith('-') ? -v : v;
};
const d = scale(process.argv[2]) - scale(process.argv[3]);
const digits = (d < 0n ? -d : d).toString().padStart(19, '0');
const out = `${digits.slice(0, -18)}.${digits.slice(-18)}`.replace(/\.?0+$/, '');
process.stdout.write((d < 0n ? '-' : '') + (out || '0'));
