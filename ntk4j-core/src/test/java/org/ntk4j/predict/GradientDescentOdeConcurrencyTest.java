package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.Tensor;

/**
 * One gradient-descent ODE predictor asked from several threads at once: each integration counts its own
 * right-hand side evaluations against the cap. They shared one counter, which each call reset and all
 * incremented: with the cap set to what one call needs, calls running together stopped with "stopped after N
 * right-hand side evaluations" although none alone reaches it, and {@link GradientDescentOde#evaluations()}
 * reported a mix of calls.
 */
class GradientDescentOdeConcurrencyTest {
    @Test
    void concurrentPredictionsEachCountTheirOwnEvaluationsAndEqualACallMadeAlone() throws Exception {
        int threads = 4;
        int rounds = 5;
        double[] ts = {0.5, 4, 20};
        try (Tensor k = GradientDescentOdeTest.kernel(3, 4); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = GradientDescentOdeTest.oneHot(new int[] {0, 2, 1, 2}, 3)) {
            GradientDescentOde ode = GradientDescentOde.of(km, y, Loss.CROSS_ENTROPY, 1, 0.9);
            List<double[]> alone = trainOutputs(ode.predict(ts, null, null, null));
            int needed = ode.evaluations();
            assertThat(needed).isGreaterThan(100);
            ode.maxEvaluations(needed); // exactly what one call needs
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            try {
                List<Future<List<List<double[]>>>> futures = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    futures.add(pool.submit(() -> {
                        start.await();
                        List<List<double[]>> got = new ArrayList<>();
                        for (int r = 0; r < rounds; r++) {
                            got.add(trainOutputs(ode.predict(ts, null, null, null)));
                        }
                        return got;
                    }));
                }
                start.countDown();
                for (Future<List<List<double[]>>> f : futures) {
                    for (List<double[]> got : f.get(60, TimeUnit.SECONDS)) {
                        for (int i = 0; i < ts.length; i++) {
                            assertThat(got.get(i)).as("t = %s", ts[i]).containsExactly(alone.get(i));
                        }
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(ode.evaluations()).isEqualTo(needed);
        }
    }

    /** The train outputs at each time, the outputs closed. */
    private static List<double[]> trainOutputs(GradientDescentOde.Outputs[] outs) {
        List<double[]> v = new ArrayList<>();
        for (GradientDescentOde.Outputs o : outs) {
            try (o) {
                v.add(o.train().toDoubleArray());
            }
        }
        return v;
    }
}
