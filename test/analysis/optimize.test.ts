// The minimisers on known problems: Rosenbrock (2-D and 10-D), a bounded quadratic whose minimum sits on
// the bounds, a bounded Rosenbrock, and problems they cannot finish, which must report and not throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lbfgs, nelderMead, finiteDifferenceGradient, type ValueAndGradient } from '../../src/analysis/optimize.ts';
import { assertClose } from '../helpers/assert-close.ts';

/** Rosenbrock's function in n dimensions and its gradient (scipy.optimize.rosen / rosen_der) */
const rosen = (x: Float64Array): number => {
  let s = 0;
  for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
  return s;
};
const rosenFg: ValueAndGradient = (x, g) => {
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const t = x[i + 1] - x[i] ** 2;
    g[i] += -400 * x[i] * t - 2 * (1 - x[i]);
    g[i + 1] += 200 * t;
  }
  return rosen(x);
};

test('L-BFGS solves 2-D Rosenbrock from (-1.2, 1)', () => {
  const r = lbfgs(rosenFg, [-1.2, 1]);
  assert.ok(r.success, r.message);
  // scipy's L-BFGS-B stops within ~1e-5 of (1, 1) with gtol 1e-5
  assertClose('x', r.x, [1, 1], { rtol: 0, atol: 1e-4 });
  assert.ok(r.fun < 1e-9, `fun ${r.fun}`);
  assert.ok(r.iterations > 10 && r.iterations < 100, `iterations ${r.iterations}`);
});

test('L-BFGS solves 10-D Rosenbrock, with analytic and with finite-difference gradients', () => {
  const x0 = [1.3, 0.7, 0.8, 1.9, 1.2, -0.5, 0.3, 1.1, 0.9, 0.0];
  const ones = new Array(10).fill(1);
  const a = lbfgs(rosenFg, x0, { gtol: 1e-8 });
  assert.ok(a.success, a.message);
  assertClose('x analytic', a.x, ones, { rtol: 0, atol: 1e-5 });
  const b = lbfgs(finiteDifferenceGradient(rosen), x0, { gtol: 1e-6 });
  assert.ok(b.success, b.message);
  // central differences carry ~1e-10 gradient error, so x is good to ~1e-4
  assertClose('x finite differences', b.x, ones, { rtol: 0, atol: 1e-4 });
});

test('L-BFGS with bounds stops on the bounds (projected, L-BFGS-B style)', () => {
  // (x - 3)^2 + (y + 1)^2 + (z - 0.5)^2 on [0, 2] x [0, 5] x (-inf, inf): minimum (2, 0, 0.5), f = 2
  const fg: ValueAndGradient = (x, g) => {
    g[0] = 2 * (x[0] - 3);
    g[1] = 2 * (x[1] + 1);
    g[2] = 2 * (x[2] - 0.5);
    return (x[0] - 3) ** 2 + (x[1] + 1) ** 2 + (x[2] - 0.5) ** 2;
  };
  const r = lbfgs(fg, [1, 4, -3], {
    bounds: [
      [0, 2],
      [0, 5],
      [null, null],
    ],
  });
  assert.ok(r.success, r.message);
  assertClose('x', r.x, [2, 0, 0.5], { rtol: 0, atol: 1e-7 });
  assertClose('fun', r.fun, 2, { rtol: 1e-9, atol: 0 });
  // bounded Rosenbrock: with x0 <= 0.5 the constrained minimum is on x0 = 0.5, x1 = 0.25
  const b = lbfgs(rosenFg, [-1, 2], {
    bounds: [
      [-2, 0.5],
      [-2, 2],
    ],
  });
  assert.ok(b.success, b.message);
  assertClose('bounded rosenbrock', b.x, [0.5, 0.25], { rtol: 0, atol: 1e-5 });
  // a start outside the box is projected into it first
  const c = lbfgs(fg, [10, -10, 0], {
    bounds: [
      [0, 2],
      [0, 5],
      [null, null],
    ],
  });
  assertClose('projected start', c.x, [2, 0, 0.5], { rtol: 0, atol: 1e-7 });
});

test('non-convergence is reported, never thrown', () => {
  const r = lbfgs(rosenFg, [-1.2, 1], { maxIterations: 3 });
  assert.equal(r.success, false);
  assert.equal(r.status, 1);
  assert.match(r.message, /ITERATIONS/);
  assert.equal(r.iterations, 3);
  // unbounded below: f = x0 + x1 heads to -infinity
  const u = lbfgs(
    (x, g) => {
      g[0] = 1;
      g[1] = 1;
      return x[0] + x[1];
    },
    [0, 0],
    { maxIterations: 50 },
  );
  assert.equal(u.success, false);
  assert.ok(u.fun < -1e3, `fun ${u.fun}`);
  // NaN objective at the start
  const n = lbfgs(
    (_x, g) => {
      g.fill(0);
      return NaN;
    },
    [0],
  );
  assert.equal(n.success, false);
  const nm = nelderMead(rosen, [-1.2, 1], { maxIterations: 10 });
  assert.equal(nm.success, false);
  assert.match(nm.message, /iterations/);
});

test('Nelder-Mead solves 2-D and 4-D Rosenbrock like scipy', () => {
  const r = nelderMead(rosen, [-1.2, 1], { xatol: 1e-8, fatol: 1e-8 });
  assert.ok(r.success, r.message);
  assertClose('x 2-D', r.x, [1, 1], { rtol: 0, atol: 1e-6 });
  // scipy needs ~85 iterations / ~160 evaluations for this start with these tolerances
  assert.ok(r.iterations > 40 && r.iterations < 200, `iterations ${r.iterations}`);
  const q = nelderMead(rosen, [1.3, 0.7, 0.8, 1.9], { xatol: 1e-8, fatol: 1e-10, maxIterations: 5000, maxEvaluations: 10000 });
  assert.ok(q.success, q.message);
  assertClose('x 4-D', q.x, [1, 1, 1, 1], { rtol: 0, atol: 1e-4 });
  const b = nelderMead(rosen, [0, 0], {
    bounds: [
      [-2, 0.5],
      [-2, 2],
    ],
    xatol: 1e-8,
    fatol: 1e-10,
  });
  assertClose('bounded', b.x, [0.5, 0.25], { rtol: 0, atol: 1e-4 });
});
