package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.Tensor;

/**
 * One predictor asked from several threads at once makes each factorisation once and gives every thread the
 * predictions of a call made alone; a closed predictor says so. (With {@link GradientDescentMse#ofDestroying}, two
 * threads both asking a finite t got "t = ∞ and finite t cannot both be asked", or could both factorise the same
 * matrix.)
 */
class GradientDescentMseConcurrencyTest {
    @Test
    void threadsAskingAtOnceGetThePredictionsOfACallMadeAlone() throws Exception {
        int n = 200;
        Random r = new Random(5);
        double[][] features = GradientDescentMseTest.random(r, n, 2 * n);
        try (Tensor k = GradientDescentMseTest.tensor(GradientDescentMseTest.gram(features, features));
             Tensor y = GradientDescentMseTest.tensor(GradientDescentMseTest.random(r, n, 2))) {
            for (double t : new double[] {1.0, Double.POSITIVE_INFINITY}) {
                double[] alone;
                try (KernelMatrix km = KernelMatrix.of(k); GradientDescentMse gd = GradientDescentMse.of(km, y, 1,
                        DiagReg.relative(1e-3)); Tensor f = gd.coefficients(t, null)) {
                    alone = f.toDoubleArray();
                }
                for (boolean inPlace : new boolean[] {false, true}) {
                    for (int round = 0; round < 3; round++) {
                        try (KernelMatrix km = KernelMatrix.of(k);
                             GradientDescentMse gd = inPlace ? GradientDescentMse.ofDestroying(km, y, 1,
                                     DiagReg.relative(1e-3))
                                     : GradientDescentMse.of(km, y, 1, DiagReg.relative(1e-3))) {
                            CyclicBarrier together = new CyclicBarrier(2);
                            ExecutorService pool = Executors.newFixedThreadPool(2);
                            try {
                                List<Future<double[]>> got = new ArrayList<>();
                                for (int c = 0; c < 2; c++) {
                                    got.add(pool.submit(() -> {
                                        together.await();
                                        try (Tensor f = gd.coefficients(t, null)) {
                                            return f.toDoubleArray();
                                        }
                                    }));
                                }
                                for (Future<double[]> g : got) {
                                    assertThat(g.get()).as("t %s, in place %s", t, inPlace).containsExactly(alone);
                                }
                            } finally {
                                pool.shutdownNow();
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void aClosedPredictorSaysSo() {
        Random r = new Random(6);
        double[][] features = GradientDescentMseTest.random(r, 4, 8);
        try (Tensor k = GradientDescentMseTest.tensor(GradientDescentMseTest.gram(features, features));
             Tensor y = GradientDescentMseTest.tensor(GradientDescentMseTest.random(r, 4, 2));
             KernelMatrix km = KernelMatrix.of(k)) {
            GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(1e-3));
            gd.close();
            gd.close();
            assertThatThrownBy(gd::eigenvalues).isInstanceOf(IllegalStateException.class)
                    .hasMessage("gradient descent predictor used after close()");
            assertThatThrownBy(() -> gd.predictTrain(1, null)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("after close()");
            assertThatThrownBy(() -> gd.coefficients(Double.POSITIVE_INFINITY, null))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("after close()");
        }
    }
}
