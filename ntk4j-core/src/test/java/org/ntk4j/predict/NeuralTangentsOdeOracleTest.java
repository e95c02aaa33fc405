package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.tensor.Tensor;

/**
 * {@link GradientDescentOde} against neural-tangents' {@code predict.gradient_descent} as its source writes the ODE
 * (nt_ode_oracle.txt, from nt_ode_oracle.py: torch.autograd's gradient of the docstring's losses, RK4 with Richardson
 * extrapolation in float64): cross-entropy {@code -mean(log_softmax(f) * y)} with soft targets whose rows do not sum
 * to 1, and MSE {@code 0.5 * mean((f - y)^2)}; no momentum, momentum 0.9 and 0.5 (time in units of √η, μ' =
 * (μ − 1)/√η, q(0) = 0); an [N, N] kernel read as K ⊗ I_O and a full [N, N, O, O] one; train and test outputs at
 * three times, learning rate 0.7. Tolerance 1e-8 absolute (outputs of order 1; the integrator's tolerance is 1e-10).
 */
class NeuralTangentsOdeOracleTest {
    private static org.ntk4j.OracleTensors oracle;

    @BeforeAll
    static void load() throws IOException {
        oracle = org.ntk4j.OracleTensors.load(NeuralTangentsOdeOracleTest.class, "nt_ode_oracle.txt");
    }

    @AfterAll
    static void close() {
        oracle.close();
    }

    @ParameterizedTest(name = "{0} momentum {1} kernel {2}")
    @CsvSource({"ce, none, k", "ce, 0.9, k", "mse, 0.5, k", "ce, 0.9, full", "ce, none, full"})
    void trainAndTestOutputsMatchNeuralTangentsOde(String loss, String momentum, String kind) {
        boolean full = kind.equals("full");
        Tensor y = oracle.get("input y");
        Tensor f0 = oracle.get("input f0");
        Tensor ts = oracle.get("input t");
        double mu = momentum.equals("none") ? Double.NaN : Double.parseDouble(momentum);
        try (KernelMatrix k = KernelMatrix.of(oracle.get(full ? "input kfull" : "input k"))) {
            GradientDescentOde ode = GradientDescentOde.of(k, y, loss.equals("ce") ? Loss.CROSS_ENTROPY : Loss.MSE,
                    0.7, mu);
            GradientDescentOde.Outputs[] out = ode.predict(ts.toDoubleArray(), f0,
                    oracle.get(full ? "input ktdfull" : "input ktd"), oracle.get("input f0t"));
            String name = loss + ":" + momentum + ":" + kind;
            double moved = 0;
            for (int i = 0; i < out.length; i++) {
                try (GradientDescentOde.Outputs o = out[i]) {
                    Tensor train = oracle.get("train " + name + ":" + i);
                    Tensor test = oracle.get("test " + name + ":" + i);
                    assertThat(o.train().shape()).isEqualTo(train.shape());
                    assertThat(o.test().shape()).isEqualTo(test.shape());
                    for (int e = 0; e < train.size(); e++) {
                        assertThat(o.train().getFlat(e)).as("%s t[%d] train %d", name, i, e)
                                .isCloseTo(train.getFlat(e), org.assertj.core.data.Offset.offset(1e-8));
                        moved = Math.max(moved, Math.abs(train.getFlat(e) - f0.getFlat(e)));
                    }
                    for (int e = 0; e < test.size(); e++) {
                        assertThat(o.test().getFlat(e)).as("%s t[%d] test %d", name, i, e)
                                .isCloseTo(test.getFlat(e), org.assertj.core.data.Offset.offset(1e-8));
                    }
                }
            }
            assertThat(moved).as("the outputs moved").isGreaterThan(0.05);
        }
    }
}
