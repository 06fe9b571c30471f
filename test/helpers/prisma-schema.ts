import fs from 'node:fs';
import path from 'node:path';

export interface ModelColumn {
  column: string;
  type: string;
  nullable: boolean;
}

export interface Model {
  table: string;
  columns: ModelColumn[];
  primaryKey: string[];
  uniques: string[][];
  indexes: string[][];
}

const SCALARS: Record<string, string> = {
  String: 'text',
  BigInt: 'bigint',
  Int: 'integer',
  Boolean: 'boolean',
  Json: 'jsonb',
  DateTime: 'timestamp without time zone',
  Decimal: 'numeric(65,30)',
};

/** Reads prisma/schema.prisma into tables and columns as PostgreSQL would name and type them. */
export function readPrismaModels(file = path.resolve(__dirname, '../../prisma/schema.prisma')): Model[] {
  const text = fs.readFileSync(file, 'utf8');
  const models: Model[] = [];
  for (const [, name, body] of text.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const fieldToColumn = new Map<string, string>();
    const model: Model = {
      table: /@@map\("(\w+)"\)/.exec(body)?.[1] ?? name,
      columns: [],
      primaryKey: [],
      uniques: [],
      indexes: [],
    };
    for (const raw of body.split('\n')) {
      const line = raw.trim();
      const m = /^(\w+)\s+(\w+)(\?|\[\])?\s*(.*)$/.exec(line);
      if (!m || line.startsWith('@@')) continue;
      const [, field, type, modifier, attrs] = m;
      if (!(type in SCALARS) || modifier === '[]') continue; // relation fields are not columns
      const column = /@map\("(\w+)"\)/.exec(attrs)?.[1] ?? field;
      fieldToColumn.set(field, column);
      const db = /@db\.(\w+)(?:\((\d+),\s*(\d+)\)|\((\d+)\))?/.exec(attrs);
      let sqlType = SCALARS[type];
      if (db?.[1] === 'Uuid') sqlType = 'uuid';
      if (db?.[1] === 'Timestamptz') sqlType = 'timestamp with time zone';
      if (db?.[1] === 'Date') sqlType = 'date';
      if (db?.[1] === 'Decimal') sqlType = `numeric(${db[2]},${db[3]})`;
      model.columns.push({ column, type: sqlType, nullable: modifier === '?' });
      if (/@id\b/.test(attrs)) model.primaryKey = [column];
      if (/@unique\b/.test(attrs)) model.uniques.push([column]);
    }
    const cols = (list: string) => list.split(',').map((f) => fieldToColumn.get(f.trim()) ?? f.trim());
    for (const [, list] of body.matchAll(/@@id\(\[([^\]]+)\]\)/g)) model.primaryKey = cols(list);
    for (const [, list] of body.matchAll(/@@unique\(\[([^\]]+)\]\)/g)) model.uniques.push(cols(list));
    for (const [, list] of body.matchAll(/@@index\(\[([^\]]+)\]\)/g)) model.indexes.push(cols(list));
    models.push(model);
  }
  return models;
}
