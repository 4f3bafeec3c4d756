package main

import (
	"context"
	"testing"
	"time"

	mq "mqspec/driver"
)

// fixture is a queue with T = 30 s on a virtual clock the test moves.
type fixture struct {
	t     *testing.T
	clock *mq.VirtualClock
	q     *queue
}

func newFixture(t *testing.T, cfg config) *fixture {
	clock := mq.NewVirtualClock(0)
	opts := mq.Options{ReservationTimeout: 30 * time.Second, Clock: clock, Fresh: true}
	return &fixture{t: t, clock: clock, q: newQueue(opts, cfg)}
}

func (f *fixture) push(at float64, id string, priority, delay int) {
	f.t.Helper()
	f.clock.Set(at)
	task := mq.Task{"id": id, "priority": priority}
	if delay > 0 {
		task["delay"] = delay
	}
	if _, err := f.q.Push(context.Background(), task); err != nil {
		f.t.Fatalf("push %s: %v", id, err)
	}
}

// reserve returns the id reserved at time at, or "" for none.
func (f *fixture) reserve(at float64) string {
	f.t.Helper()
	f.clock.Set(at)
	task, err := f.q.Reserve(context.Background())
	if err != nil {
		f.t.Fatalf("reserve: %v", err)
	}
	id, _ := task.ID()
	return id
}

func (f *fixture) delete(at float64, id string) error {
	f.clock.Set(at)
	return f.q.Delete(context.Background(), mq.Task{"id": id, "priority": 1})
}

func (f *fixture) expect(at float64, want ...string) {
	f.t.Helper()
	for _, id := range want {
		if got := f.reserve(at); got != id {
			f.t.Fatalf("t=%v: reserve gave %q, want %q", at, got, id)
		}
	}
}

// The seed's example (MQ-RESTORE-3): [A, B, C], A reserved, B reserved and deleted, A's
// timeout passes: the order is [A, C], not [C, A].
func TestSeedExampleRestoresAInItsOldPlace(t *testing.T) {
	f := newFixture(t, config{})
	f.push(0, "A", 1, 0)
	f.push(0, "B", 1, 0)
	f.push(0, "C", 1, 0)
	f.expect(1, "A")
	f.expect(2, "B")
	if err := f.delete(3, "B"); err != nil {
		t.Fatal(err)
	}
	f.expect(31, "A", "C", "")
}

func TestRestoreToTailTwinGivesCA(t *testing.T) {
	f := newFixture(t, config{bug: "restore-to-tail"})
	f.push(0, "A", 1, 0)
	f.push(0, "B", 1, 0)
	f.push(0, "C", 1, 0)
	f.expect(1, "A", "B")
	_ = f.delete(3, "B")
	f.expect(31, "C", "A")
}

func TestLoseOnTimeoutTwinDropsTheJob(t *testing.T) {
	f := newFixture(t, config{bug: "lose-on-timeout"})
	f.push(0, "A", 1, 0)
	f.expect(0, "A")
	f.expect(100, "")
}

func TestPriorityFIFOAndDelay(t *testing.T) {
	f := newFixture(t, config{})
	f.push(0, "D", 1, 5) // enqueued at 5
	f.push(3, "E", 1, 0) // enqueued at 3
	f.push(6, "F", 1, 0)
	f.push(6, "H", 2, 0)
	f.push(6, "L", 0, 0)
	f.expect(7, "H", "E", "D", "F", "L", "")
}

func TestDeleteHasThreeCases(t *testing.T) {
	f := newFixture(t, config{})
	f.push(0, "A", 1, 0)
	if err := f.delete(1, "A"); err == nil {
		t.Error("a Delete of a ready job that is not reserved must fail (MQ-DELETE-2)")
	}
	f.expect(2, "A")
	if err := f.delete(32, "A"); err == nil {
		t.Error("a Delete after the deadline must fail (MQ-DELETE-2)")
	}
	f.expect(33, "A")
	if err := f.delete(34, "A"); err != nil {
		t.Errorf("a Delete of a pending reservation must succeed (MQ-DELETE-1): %v", err)
	}
	if err := f.delete(35, "A"); err != nil {
		t.Errorf("a Delete of an id that is not live must succeed (MQ-DELETE-3): %v", err)
	}
	f.expect(100, "")
}

func TestTokensRefuseAStaleDelete(t *testing.T) {
	f := newFixture(t, config{tokens: true})
	f.push(0, "A", 1, 0)
	f.clock.Set(0)
	first, _ := f.q.Reserve(context.Background())
	f.clock.Set(30)
	second, _ := f.q.Reserve(context.Background())
	if first[mq.TokenKey] == second[mq.TokenKey] {
		t.Fatal("two reservations got the same token")
	}
	f.clock.Set(35)
	if err := f.q.Delete(context.Background(), first); err == nil {
		t.Error("a stale token must be refused (MQ-DELETE-5)")
	}
	if err := f.q.Delete(context.Background(), second); err != nil {
		t.Errorf("the holder's Delete failed: %v", err)
	}
}
