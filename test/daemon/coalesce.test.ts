import t from 'tap'
import { CoalescedJob } from '../../lib/daemon/coalesce.js'

/** A job whose runs wait until released, recording each start. */
function gated (result = true): { job: CoalescedJob, starts: () => number, release: () => Promise<void> } {
  let starts = 0
  let open: (() => void) | null = null
  const job = new CoalescedJob(async () => {
    starts++
    await new Promise<void>(resolve => { open = resolve })
    return result
  })
  const release = async (): Promise<void> => {
    const go = open
    open = null
    go?.()
    await new Promise(resolve => setImmediate(resolve))
  }
  return { job, starts: () => starts, release }
}

t.test('requests during a run make exactly one more run', async (t) => {
  const { job, starts, release } = gated()
  job.request()
  t.equal(starts(), 1)
  job.request()
  job.request()
  job.request()
  t.equal(starts(), 1, 'no second run while one is under way')
  await release()
  t.equal(starts(), 2, 'one more run for the three requests')
  t.ok(job.busy)
  await release()
  t.equal(starts(), 2, 'nothing more was asked for')
  t.notOk(job.busy)
  job.request()
  t.equal(starts(), 3, 'an idle job runs at once')
  await release()
})

t.test('a run that resolves false ends the repeats', async (t) => {
  const { job, starts, release } = gated(false)
  job.request()
  job.request()
  await release()
  t.equal(starts(), 1, 'the queued request is dropped: nothing to do')
  t.notOk(job.busy)
})
