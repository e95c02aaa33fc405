package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.predict.GradientDescentMseTest.kronTensor;
import static org.ntk4j.predict.GradientDescentMseTest.tensor;

import org.junit.jupiter.api.Test;
import org.ntk4j.predict.GradientDescentMseTest.Problem;
import org.ntk4j.tensor.Tensor;

/**
 * {@code GradientDescentMse.fromTensor}, the factory that takes the train-train kernel as the tensor
 * {@code EmpiricalNtk.kernel} and {@link GpInference} use: the numbers of the {@link KernelMatrix} factory on the same
 * kernel, bit for bit (one code path), for N×N and full kernels, independent of the tensor once built.
 */
class GradientDescentMseFromTensorTest {
    private static final double INF = Double.POSITIVE_INFINITY;

    @Test
    void givesTheNumbersOfTheKernelMatrixFactory() {
        Problem pr = Problem.random(5, 8, 4, 10, 3);
        int o = 3;
        try (Tensor k = tensor(pr.kTrain()); Tensor kt = tensor(pr.kTest());
             Tensor kFull = kronTensor(pr.kTrain(), o);
             Tensor ktFull = kronTensor(pr.kTest(), o);
             Tensor y = tensor(pr.y()); Tensor f0 = tensor(pr.f0Train());
             Tensor f0t = tensor(pr.f0Test());
             KernelMatrix km = KernelMatrix.of(k); KernelMatrix kmFull = KernelMatrix.of(kFull);
             GradientDescentMse old = GradientDescentMse.of(km, y, 0.9, DiagReg.relative(1e-3));
             GradientDescentMse oldFull = GradientDescentMse.of(kmFull, y, 0.9, DiagReg.absolute(1e-3))) {
            GradientDescentMse fromTensor = GradientDescentMse.fromTensor(k, y, 0.9, DiagReg.relative(1e-3));
            GradientDescentMse fromFull = GradientDescentMse.fromTensor(kFull, y, 0.9, DiagReg.absolute(1e-3));
            // the kernel was copied: changing the tensor afterwards changes nothing
            k.setFlat(0, 1e6);
            kFull.setFlat(0, 1e6);
            assertThat(fromTensor.regulariser()).isEqualTo(old.regulariser());
            assertThat(fromFull.regulariser()).isEqualTo(oldFull.regulariser());
            for (double t : new double[] {0.5, 30, INF}) {
                try (Tensor a = old.predictTest(t, kt, f0, f0t); Tensor b = fromTensor.predictTest(t, kt, f0, f0t);
                     Tensor c = oldFull.predictTest(t, ktFull, f0, f0t);
                     Tensor d = fromFull.predictTest(t, ktFull, f0, f0t);
                     Tensor e = old.predictTrain(t, f0); Tensor f = fromTensor.predictTrain(t, f0)) {
                    assertThat(b.toDoubleArray()).containsExactly(a.toDoubleArray());
                    assertThat(d.toDoubleArray()).containsExactly(c.toDoubleArray());
                    assertThat(f.toDoubleArray()).containsExactly(e.toDoubleArray());
                }
            }
            fromTensor.close();
            fromFull.close();
            fromTensor.close(); // idempotent, the owned copy included
            assertThatThrownBy(() -> fromTensor.predictTrain(1, f0)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void badInputIsOneLineNamingTheArgument() {
        try (Tensor y = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2);
             Tensor k = Tensor.of(new double[] {2, 1, 1, 2}, 2, 2);
             Tensor rect = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor asym = Tensor.of(new double[] {2, 1, 0, 2}, 2, 2);
             Tensor y3 = Tensor.of(new double[] {1, 2, 3}, 3, 1)) {
            // was a NullPointerException from kernel.shape()
            assertOneLine(() -> KernelMatrix.of(null),
                    "kernel: expected a train-train kernel [N, N] or [N, N, O, O], got null");
            assertOneLine(() -> GradientDescentMse.fromTensor(null, y, 1, DiagReg.relative(0)),
                    "train-train kernel: must not be null");
            assertOneLine(() -> GradientDescentMse.fromTensor(rect, y, 1, DiagReg.relative(0)),
                    "kernel: expected a train-train kernel [N, N] or [N, N, O, O], got [2, 3]");
            assertOneLine(() -> GradientDescentMse.fromTensor(asym, y, 1, DiagReg.relative(0)), "kernel:");
            assertOneLine(() -> GradientDescentMse.fromTensor(k, null, 1, DiagReg.relative(0)),
                    "targets: must not be null");
            assertOneLine(() -> GradientDescentMse.fromTensor(k, y3, 1, DiagReg.relative(0)),
                    "targets: 3 rows for a kernel of 2 training examples");
            assertOneLine(() -> GradientDescentMse.fromTensor(k, y, 0, DiagReg.relative(0)), "learning");
            assertOneLine(() -> GradientDescentMse.fromTensor(k, y, 1, DiagReg.relative(-1)),
                    "diag_reg: expected a finite number >= 0");
        }
    }

    private static void assertOneLine(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String prefix) {
        assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(prefix)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
