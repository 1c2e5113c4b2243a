// The one URL-password redaction, for every URL the code shows (Postgres store, Redis queue, the sweep command).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrl } from '../../src/util/redact.ts';

test('the password becomes ***, the rest stays as written', () => {
  assert.equal(redactUrl('postgres://me:secret@db.example:5432/runs'), 'postgres://me:***@db.example:5432/runs');
  assert.equal(redactUrl('redis://:hunter2@localhost:6379/0'), 'redis://:***@localhost:6379/0');
  assert.equal(redactUrl('rediss://user:p%40ss@cache:6380'), 'rediss://user:***@cache:6380');
  assert.equal(redactUrl(new URL('postgres://me:secret@host/db?schema=x')), 'postgres://me:***@host/db?schema=x');
});

test('a URL without a password comes back unchanged', () => {
  assert.equal(redactUrl('postgres://me@host/db'), 'postgres://me@host/db');
  assert.equal(redactUrl('redis://localhost:6379'), 'redis://localhost:6379');
  assert.equal(redactUrl(new URL('postgres://host/db')), 'postgres://host/db');
  assert.equal(redactUrl('./runs'), './runs');
});

test('text that is not a URL is still cleaned of //user:password@', () => {
  assert.equal(redactUrl('redis//x://bob:pw@host:bad port'), 'redis//x://bob:***@host:bad port');
  assert.ok(!redactUrl('postgres://u:topsecret@host:99999/db').includes('topsecret')); // port out of range: URL() refuses it
});
