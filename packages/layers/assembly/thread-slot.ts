// Which thread of the kernel pool runs this instance: 0 for the calling thread, 1… for the pool's
// workers (set once by threads.ts' workerLoop; every instance has its own globals). Kernels that
// need scratch space take their thread's slice of it.
export let threadSlot: i32 = 0;

export function setThreadSlot(slot: i32): void {
  threadSlot = slot;
}
