package org.ntk4j.predict;

import static org.ntk4j.predict.GradientDescentMseTest.array;
import static org.ntk4j.predict.GradientDescentMseTest.assertClose;
import static org.ntk4j.predict.GradientDescentMseTest.kronTensor;
import static org.ntk4j.predict.GradientDescentMseTest.tensor;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.tensor.Tensor;

class GradientDescentMseProperties {
    /**
     * For any sizes, time, learning rate and regulariser, the full kernel K ⊗ I_O (NO×NO) predicts what the N×N
     * kernel K predicts, on train and test, and finite t approaches t = ∞ as t grows.
     */
    @Property(tries = 40)
    void fullKTimesIdentityEqualsSharedK(@ForAll @IntRange(min = 1, max = 7) int n,
                                         @ForAll @IntRange(min = 1, max = 4) int m,
                                         @ForAll @IntRange(min = 1, max = 4) int o,
                                         @ForAll @DoubleRange(min = 0.01, max = 50) double t,
                                         @ForAll @DoubleRange(min = 0.1, max = 5) double eta,
                                         @ForAll @DoubleRange(min = 1e-3, max = 1)
                                         @net.jqwik.api.constraints.Scale(4) double diagReg,
                                         @ForAll long seed) {
        GradientDescentMseTest.Problem pr = GradientDescentMseTest.Problem.random(seed, n, m, n + 3, o);
        try (Tensor k = tensor(pr.kTrain()); Tensor kt = tensor(pr.kTest());
             Tensor kFull = kronTensor(pr.kTrain(), o); Tensor ktFull = kronTensor(pr.kTest(), o);
             KernelMatrix shared = KernelMatrix.of(k); KernelMatrix full = KernelMatrix.of(kFull);
             Tensor y = tensor(pr.y()); Tensor f0 = tensor(pr.f0Train()); Tensor f0t = tensor(pr.f0Test());
             GradientDescentMse a = GradientDescentMse.of(shared, y, eta, DiagReg.relative(diagReg));
             GradientDescentMse b = GradientDescentMse.of(full, y, eta, DiagReg.relative(diagReg))) {
            for (double time : new double[] {t, Double.POSITIVE_INFINITY}) {
                try (Tensor pa = a.predictTest(time, kt, f0, f0t); Tensor pb = b.predictTest(time, ktFull, f0, f0t);
                     Tensor qa = a.predictTrain(time, f0); Tensor qb = b.predictTrain(time, f0)) {
                    assertClose(array(pb), array(pa), 1e-9);
                    assertClose(array(qb), array(qa), 1e-9);
                }
            }
            // diag_reg ≥ 1e-3 of the mean diagonal bounds λ_min below, so t = 1e12 is ∞ to round-off
            try (Tensor late = a.predictTest(1e12, kt, f0, f0t);
                 Tensor inf = a.predictTest(Double.POSITIVE_INFINITY, kt, f0, f0t)) {
                assertClose(array(late), array(inf), 1e-8);
            }
        }
    }
}
