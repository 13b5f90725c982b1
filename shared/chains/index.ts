/** The chain model, the prepare-ahead planner and the budget controller (docs/guides/chains.md). */
export * from './digest.js';
export * from './model.js';
export * from './predict.js';
export * from './planner.js';
export * from './budget.js';
export * from './start.js';
