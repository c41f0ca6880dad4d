// resilience4j-circuitbreaker on the cross-language workload: a closed call of a no-op, a refused
// call (CallNotPermittedException, caught), and one breaker shared by 2 threads. Throughput mode, so
// the 2-thread case reports calls per second over both threads (JMH sums them).
package breakwater.bench;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
public class BreakerBench {
  private static final Supplier<Integer> NOOP = () -> 42;

  private CircuitBreaker closed;
  private CircuitBreaker open;

  @Setup
  public void setup() {
    // The library's defaults (a count-based window of 100 calls, 50% failure rate); it never trips
    // here because every call succeeds.
    closed = CircuitBreaker.of("closed", CircuitBreakerConfig.ofDefaults());
    open =
        CircuitBreaker.of(
            "open",
            CircuitBreakerConfig.custom().waitDurationInOpenState(Duration.ofHours(1)).build());
    open.transitionToOpenState();
  }

  @Benchmark
  public Integer closedCall() {
    return closed.executeSupplier(NOOP);
  }

  @Benchmark
  public Object refusedCall() {
    try {
      return open.executeSupplier(NOOP);
    } catch (CallNotPermittedException e) {
      return e;
    }
  }

  @Benchmark
  @Threads(2)
  public Integer sharedClosedCall() {
    return closed.executeSupplier(NOOP);
  }
}
