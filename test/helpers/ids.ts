/**
 * Invocation ids for tests that name their own (`invId('inv_1')` reads better than a random one in
 * an assertion). The product makes them only with `newInvocationId` or at a checked boundary.
 */
import type { InvocationId } from '../../shared/ids.js';

export function invId(id: string): InvocationId {
  return id as InvocationId;
}
