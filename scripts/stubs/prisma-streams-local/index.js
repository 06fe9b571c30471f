// Stands in for @prisma/streams-local (package.json overrides). The real package requires Node >=22 and is
// loaded only by `prisma dev` (a local Prisma Postgres), which this project does not use: the service runs on
// Node 20 against PostgreSQL, with hand-written migrations (npm run db:migrate). Loading this module is harmless
// (@prisma/dev imports it lazily); starting the streams server fails with the reason.
'use strict';

const reason =
  'prisma dev is not supported here: @prisma/streams-local is replaced by a stub because it needs Node >=22 ' +
  '(docs/decisions/prisma-streams-local-stub.md). Use `npm start` (embedded PostgreSQL) or DATABASE_URL instead.';

function notSupported() {
  throw new Error(reason);
}

module.exports = { startLocalDurableStreamsServer: notSupported };
