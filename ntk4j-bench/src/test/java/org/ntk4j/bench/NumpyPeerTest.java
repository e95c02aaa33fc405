package org.ntk4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The hand-written NumPy FCN kernel ({@code numpy_fcn_ntk.py}) is ntk4j's kernel: on tiny networks in float64 the
 * two agree to 1e-12 relative (Frobenius), against ntk4j's Jacobian contraction and its structured derivatives —
 * with and without biases, at depth 1 to 3, other σ_w and σ_b. NumPy is found as the interoperability tests find
 * it; with {@code NTK4J_REQUIRE_NUMPY=1} (set by {@code .ci/run}) a missing NumPy fails instead of skipping.
 */
class NumpyPeerTest {
    private static String python;

    @BeforeAll
    static void findNumpy() {
        python = NumpyPeer.findPython();
    }

    @ParameterizedTest
    @CsvSource({"'fcn(depth=2,width=8,out=3)', 1.5, 0.05, jc", "'fcn(depth=2,width=8,out=3)', 1.5, 0.05, sd",
        "'fcn(depth=3,width=6,out=4,w_std=1.2,b_std=0.4)', 1.2, 0.4, sd",
        "'fcn(depth=1,width=5,out=2,b_std=0)', 1.5, 0, jc", "'fcn(depth=3,width=7,out=1,b_std=0)', 1.5, 0, sd"})
    void numpyPeerAgreesWithNtk4jInFloat64(String spec, double wStd, double bStd, String method, @TempDir Path dir)
            throws IOException {
        assertThat(python != null || !"1".equals(System.getenv("NTK4J_REQUIRE_NUMPY")))
                .as("NTK4J_REQUIRE_NUMPY=1 but no python3 imports numpy (apt-get install python3-numpy)").isTrue();
        assumeTrue(python != null, "SKIPPED: no python3 with NumPy; the NumPy peer's agreement is not checked here. "
                + "apt-get install python3-numpy to run it.");
        Model model = Zoo.parse(spec);
        int[] in = {7};
        try (Params params = model.init(5, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 6, 5, 7);
             Tensor expected = EmpiricalNtk.of(model, params).method(Method.parse(method)).traceAxes().ntk(x, null)) {
            NumpyPeer.Run run = NumpyPeer.run(python, dir, params, x, wStd, bStd, 1, 0, 1);
            try (Tensor k = run.kernel()) {
                assertThat(k.shape()).containsExactly(expected.shape());
                assertThat(KernelAgreement.relativeError(k, expected)).isLessThan(1e-12);
                assertThat(run.seconds()).hasSize(1);
                assertThat(run.numpy()).startsWith("NumPy ");
            }
        }
    }
}
