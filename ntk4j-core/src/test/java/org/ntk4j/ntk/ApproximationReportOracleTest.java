package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link ApproximationReport} against approximation_report_oracle.txt, written by the test resource
 * approximation_report_oracle.py: NumPy's relative Frobenius error of K ⊗ I_O, λ_max error, λ_min and condition
 * ratios, kernel-regression predictions, their argmax agreement and test accuracy, in float64 from the kernels stored
 * in approximation_report_kernels.txt (which this test first checks ntk4j still computes). Two fcns: one whose full
 * kernel is well conditioned, and a narrow ReLU one whose full kernel is singular (λ_min round-off of either sign).
 */
class ApproximationReportOracleTest {
    private static final long KIND_SEED = 7;

    /** One stored case: the model, its shapes, and the kernels NumPy read. */
    private record Case(String spec, int d, int n, int m, Map<String, double[]> kernels) {
    }

    @Test
    void everyFigureMatchesTheNumPyOracle() throws IOException {
        List<Case> cases = new ArrayList<>();
        for (String[] p : lines("approximation_report_kernels.txt")) {
            if (p[0].equals("case")) {
                cases.add(new Case(p[2], Integer.parseInt(p[3]), Integer.parseInt(p[4]), Integer.parseInt(p[5]),
                        new LinkedHashMap<>()));
            } else {
                double[] v = new double[p.length - 2];
                for (int i = 0; i < v.length; i++) {
                    v[i] = Double.parseDouble(p[i + 2]);
                }
                cases.get(cases.size() - 1).kernels().put(p[0], v);
            }
        }
        List<String[]> expected = lines("approximation_report_oracle.txt");
        int line = 0;
        for (Case c : cases) {
            String[] head = expected.get(line++);
            Model net = Zoo.parse(c.spec());
            int[] per = {c.d()};
            int o = net.outputShape(per)[0];
            int[] labels = new int[c.m()];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = i % o;
            }
            List<KernelKind> kinds = new ArrayList<>();
            for (String name : c.kernels().keySet()) {
                if (name.startsWith("K_")) {
                    kinds.add(KernelKind.parse(name.substring(2), KIND_SEED));
                }
            }
            try (Params p = net.init(3, per, DType.F64);
                 Tensor x = Tensor.randomNormal(DType.F64, 5, c.n(), c.d());
                 Tensor xt = Tensor.randomNormal(DType.F64, 6, c.m(), c.d());
                 Tensor y = ApproximationReport.randomOneHot(DType.F64, c.n(), o, 1)) {
                EmpiricalNtk e = EmpiricalNtk.of(net, p);
                // the kernels NumPy read are still the ones ntk4j computes (to round-off of another BLAS)
                same(c, "full", e.kernel(KernelKind.full(), x, null));
                same(c, "fulltest", e.kernel(KernelKind.full(), xt, x));
                same(c, "y", y.to(DType.F64)); // a copy: same() closes what it checks
                for (KernelKind k : kinds) {
                    same(c, "K_" + k, e.kernel(k, x, null));
                    same(c, "T_" + k, e.kernel(k, xt, x));
                }
                ApproximationReport r = ApproximationReport.run(e, x, xt, y, labels, kinds,
                        DiagReg.relative(1e-4), null);
                assertThat(r.fullSingular()).as(c.spec()).isEqualTo(head[2].equals("1"));
                assertThat(r.fullTestAccuracy()).as(c.spec()).isEqualTo(Double.parseDouble(head[3]));
                assertThat(r.table().contains("singular")).isEqualTo(r.fullSingular());
                // the mean of the diagonal blocks is the least-squares K for K ⊗ I_O: no kind is closer than trace
                double traceError = r.rows().stream().filter(row -> row.kind.equals("trace")).findFirst()
                        .orElseThrow().relativeFrobeniusError;
                assertThat(r.rows()).allSatisfy(row -> assertThat(row.relativeFrobeniusError).as(row.kind)
                        .isGreaterThanOrEqualTo(traceError));
                for (ApproximationReport.Row row : r.rows()) {
                    String[] want = expected.get(line++);
                    assertThat(want[1]).isEqualTo(row.kind);
                    String at = c.spec() + " " + row.kind;
                    close(at + " frobenius", row.relativeFrobeniusError, want[2], 1e-10);
                    close(at + " lambda_max", row.lambdaMaxRelativeError, want[3], 1e-9);
                    close(at + " lambda_min ratio", row.lambdaMinRatio, want[4], 1e-8);
                    close(at + " condition ratio", row.conditionNumberRatio, want[5], 1e-8);
                    // a singular Θ regularised by 1e-4 of its mean diagonal: solves lose about 6 digits
                    close(at + " predictions", row.predictionRelativeDifference, want[6], 1e-7);
                    assertThat(row.argmaxAgreement).as(at).isEqualTo(Double.parseDouble(want[7]));
                    assertThat(row.testAccuracy).as(at).isEqualTo(Double.parseDouble(want[8]));
                }
            }
        }
        assertThat(line).isEqualTo(expected.size());
    }

    /** Relative closeness; NaN only where NumPy says nan. */
    private static void close(String what, double actual, String expected, double rel) {
        if (expected.equals("nan")) {
            assertThat(actual).as(what).isNaN();
        } else {
            double e = Double.parseDouble(expected);
            assertThat(actual).as(what).isCloseTo(e, within(rel * Math.max(Math.abs(e), 1e-3)));
        }
    }

    private static void same(Case c, String name, Tensor t) {
        double[] want = c.kernels().get(name);
        double[] got = t.toDoubleArray();
        t.close();
        assertThat(got).as("%s %s", c.spec(), name).hasSameSizeAs(want);
        double scale = 0;
        for (double v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < got.length; i++) {
            assertThat(got[i]).as("%s %s[%d]", c.spec(), name, i).isCloseTo(want[i], within(1e-12 * scale));
        }
    }

    private static List<String[]> lines(String resource) throws IOException {
        List<String[]> out = new ArrayList<>();
        try (InputStream s = ApproximationReportOracleTest.class.getResourceAsStream(resource);
             BufferedReader r = new BufferedReader(new InputStreamReader(s, StandardCharsets.UTF_8))) {
            for (String l = r.readLine(); l != null; l = r.readLine()) {
                out.add(l.trim().split(" "));
            }
        }
        return out;
    }
}
