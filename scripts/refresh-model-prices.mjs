#!/usr/bin/env node
// Refreshes Processor.Worker/Pricing/model-prices.json from the npm package @pydantic/genai-prices (MIT,
// https://github.com/pydantic/genai-prices). Usage: node scripts/refresh-model-prices.mjs [version]
// (default: the newest). It packs the package into a temporary directory with npm, reads its price data and
// writes only the derived table: per provider and model, the match rule and the prices per million tokens
// with the date each applies from. Nothing of the package itself is committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageName = '@pydantic/genai-prices';
const version = process.argv[2] ?? execFileSync('npm', ['view', packageName, 'version'], { encoding: 'utf8' }).trim();
const work = mkdtempSync(join(tmpdir(), 'genai-prices-'));
try {
  const tarball = execFileSync('npm', ['pack', `${packageName}@${version}`, '--silent'], { cwd: work, encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['xzf', tarball], { cwd: work });
  const entry = join(work, 'package', 'dist', 'index.cjs');
  const prices = createRequire(import.meta.url)(entry);
  // The package exposes providers one at a time (findProvider); their ids are the top-level entries of its data.
  const source = readFileSync(entry, 'utf8');
  const ids = [...new Set([...source.matchAll(/\{id:"([^"]+)",name:"[^"]+",(?:pricing_urls|api_pattern)/g)].map(m => m[1]))];

  // A price is a number or tiers by prompt size; the table keeps the base (first tier) price.
  const amount = value => value == null ? null : typeof value === 'number' ? value : value.base ?? null;
  const row = (p, from) => ({
    from,
    input: amount(p.input_mtok),
    output: amount(p.output_mtok),
    cacheRead: amount(p.cache_read_mtok),
    cacheWrite: amount(p.cache_write_mtok),
    reasoning: amount(p.output_reasoning_mtok),
  });

  const providers = [];
  for (const id of ids) {
    const provider = prices.findProvider({ providerId: id });
    if (!provider) continue;
    const models = [];
    for (const model of provider.models) {
      const conditional = Array.isArray(model.prices) ? model.prices : [{ prices: model.prices }];
      // Time-of-day discounts are left out: the table prices by date only.
      const dated = conditional
        .filter(c => !c.constraint || c.constraint.type === 'start_date')
        .map(c => row(c.prices, c.constraint?.start_date ?? null))
        .filter(r => r.input != null || r.output != null);
      if (dated.length === 0) continue;
      dated.sort((a, b) => (a.from ?? '').localeCompare(b.from ?? ''));
      models.push({ id: model.id, match: model.match, prices: dated });
    }
    providers.push({ id: provider.id, match: provider.provider_match ?? null, models });
  }

  const table = {
    source: `npm ${packageName}@${version}`,
    license: 'MIT, (c) Pydantic Services Inc.; https://github.com/pydantic/genai-prices',
    unit: 'USD per million tokens',
    providers,
  };
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'Processor.Worker', 'Pricing', 'model-prices.json');
  writeFileSync(out, JSON.stringify(table, null, 1) + '\n');
  console.log(`wrote ${out}: ${providers.length} providers, ${providers.reduce((n, p) => n + p.models.length, 0)} models from ${packageName}@${version}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
