// Text cells a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV injection);
// the same rule the ledger export applies in SQL (billing_csv_text).
const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;

/** One RFC 4180 cell: numbers stay numbers, text is formula-safe and quoted when it must be. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (!NUMBER.test(text) && FORMULA.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** A whole table: the header row, then one line per row, columns in header order. */
export function toCsv<T extends Record<string, unknown>>(columns: Array<keyof T & string>, rows: T[]): string {
  return csvLine(columns) + rows.map((r) => csvLine(columns.map((c) => r[c]))).join('');
}
