// gobreaker v2 on the cross-language workload: a closed call of a no-op, a refused call, and one
// breaker shared by 2 goroutines (time per call, all goroutines; run with -cpu 2).
//
//	go test -run '^$' -bench . -cpu 2 -benchtime 1s -count 5
package cross

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

var errDown = errors.New("down")

func noop() (int, error) { return 42, nil }

// closed: never trips during a run (ReadyToTrip is the library's default: more than 5 consecutive failures).
func closed() *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "closed", Timeout: time.Hour})
}

// opened: one failure trips it, and it stays open for an hour, so every call of the run is refused.
func opened() *gobreaker.CircuitBreaker[int] {
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:        "open",
		Timeout:     time.Hour,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
	})
	_, _ = cb.Execute(func() (int, error) { return 0, errDown })
	if cb.State() != gobreaker.StateOpen {
		panic("the breaker did not open")
	}
	return cb
}

var sink int

func BenchmarkClosedCall(b *testing.B) {
	cb := closed()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := cb.Execute(noop)
		if err != nil {
			b.Fatal(err)
		}
		sink += v
	}
}

func BenchmarkRefusedCall(b *testing.B) {
	cb := opened()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cb.Execute(noop); !errors.Is(err, gobreaker.ErrOpenState) {
			b.Fatal("not refused:", err)
		}
	}
}

// One breaker, GOMAXPROCS goroutines (2 with -cpu 2); ns/op is wall time per call over all of them.
func BenchmarkSharedClosedCall(b *testing.B) {
	cb := closed()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := 0
		for pb.Next() {
			v, err := cb.Execute(noop)
			if err != nil {
				panic(err)
			}
			local += v
		}
		if local == math.MinInt {
			sink++
		}
	})
}
