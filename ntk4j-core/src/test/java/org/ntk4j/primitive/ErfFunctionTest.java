package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.math.BigDecimal;
import java.math.MathContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link ErfFunction} against known values and an independent 80-digit evaluation of the Taylor series. */
class ErfFunctionTest {
    private static final MathContext MC = new MathContext(80);
    private static final BigDecimal PI = new BigDecimal(
            "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803");

    private static double relErr(double actual, double expected) {
        return Math.abs(actual - expected) / Math.abs(expected);
    }

    @ParameterizedTest
    @CsvSource({
        "0.5, 0.5204998778130465",
        "1, 0.8427007929497149",
        "2, 0.9953222650189527",
        "-3, -0.9999779095030014",
        "1e-10, 1.1283791670955126e-10",
        "0.1, 0.1124629160182849",
        "1.2, 0.9103139782296353",
        "1.5, 0.9661051464753108",
    })
    void knownValues(double x, double expected) {
        assertThat(relErr(ErfFunction.erf(x), expected)).as("erf(%s)", x).isLessThanOrEqualTo(1e-14);
    }

    /** erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)), summed exactly enough in 80 digits. */
    static double referenceErf(double xd) {
        BigDecimal x = new BigDecimal(xd);
        BigDecimal x2 = x.multiply(x, MC);
        BigDecimal power = x; // (-1)^n x^(2n+1) / n!
        BigDecimal sum = BigDecimal.ZERO;
        BigDecimal tiny = new BigDecimal("1e-40");
        for (int n = 0; n < 2000; n++) {
            BigDecimal term = power.divide(BigDecimal.valueOf(2L * n + 1), MC);
            sum = sum.add(term, MC);
            if (n > 2 * xd * xd && term.abs().compareTo(tiny) < 0) {
                break;
            }
            power = power.multiply(x2, MC).divide(BigDecimal.valueOf(n + 1), MC).negate();
        }
        BigDecimal scale = BigDecimal.valueOf(2).divide(PI.sqrt(MC), MC);
        return sum.multiply(scale, MC).doubleValue();
    }

    @Test
    void agreesWithAnIndependentHighPrecisionSeriesOnAGrid() {
        double worst = 0;
        double worstAt = Double.NaN;
        // spans both branches (series for x² < 1.5, continued fraction beyond) and the switch at √1.5
        for (int i = -600; i <= 600; i += 3) {
            double x = i / 100.0 + 0.001;
            double err = relErr(ErfFunction.erf(x), referenceErf(x));
            if (err > worst) {
                worst = err;
                worstAt = x;
            }
        }
        double boundary = Math.sqrt(1.5);
        for (double x : new double[] {Math.nextDown(boundary), boundary, Math.nextUp(boundary), 1e-5, 1e-3}) {
            double err = relErr(ErfFunction.erf(x), referenceErf(x));
            if (err > worst) {
                worst = err;
                worstAt = x;
            }
        }
        assertThat(worst).as("worst relative error, at x = %s", worstAt).isLessThanOrEqualTo(1e-14);
    }

    @Test
    void isOddAndHandlesSpecialValues() {
        for (double x : new double[] {1e-300, 1e-20, 0.3, 1.3, 2.7, 5, 30}) {
            assertThat(ErfFunction.erf(-x)).isEqualTo(-ErfFunction.erf(x));
        }
        assertThat(ErfFunction.erf(0.0)).isEqualTo(0.0);
        assertThat(Double.doubleToRawLongBits(ErfFunction.erf(-0.0))).isEqualTo(Double.doubleToRawLongBits(-0.0));
        assertThat(ErfFunction.erf(Double.POSITIVE_INFINITY)).isEqualTo(1.0);
        assertThat(ErfFunction.erf(Double.NEGATIVE_INFINITY)).isEqualTo(-1.0);
        assertThat(ErfFunction.erf(Double.NaN)).isNaN();
        assertThat(ErfFunction.erf(6)).isEqualTo(1.0);
        assertThat(ErfFunction.erf(1e10)).isEqualTo(1.0);
    }

    @Test
    void isLinearNearZeroEvenWhereXSquaredUnderflows() {
        double slope = 2 / Math.sqrt(Math.PI);
        for (double x : new double[] {1e-9, 1e-100, 1e-170, 1e-200, 1e-300, Double.MIN_NORMAL}) {
            assertThat(ErfFunction.erf(x)).as("erf(%s)", x).isCloseTo(slope * x, within(Math.abs(slope * x) * 1e-15));
        }
    }

    @Test
    void derivativeMatchesItsFormulaAcrossTheBranchSwitch() {
        // a jump at the switch between the series and the continued fraction would show here
        for (double x = 0.05; x < 4; x += 0.05) {
            double h = 1e-5;
            double fd = (ErfFunction.erf(x + h) - ErfFunction.erf(x - h)) / (2 * h);
            double exact = 2 / Math.sqrt(Math.PI) * Math.exp(-x * x);
            assertThat(fd).as("erf'(%s)", x).isCloseTo(exact, within(1e-9));
        }
    }
}
