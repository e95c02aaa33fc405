package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class KernelSpectrumTest {
    @Test
    void handComputedTwoByTwo() {
        try (Tensor k = Tensor.of(new double[] {2, 1, 1, 2}, 2, 2); KernelMatrix m = KernelMatrix.of(k)) {
            KernelSpectrum s = KernelSpectrum.of(m);
            assertThat(s.eigenvalues()).containsExactly(new double[] {1, 3}, within(1e-14));
            assertThat(s.trace()).isEqualTo(4);
            assertThat(s.conditionNumber()).isCloseTo(3, within(1e-14));
            // p = (1/4, 3/4): H = −(¼ ln ¼ + ¾ ln ¾), effective rank e^H
            double h = -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75));
            assertThat(s.effectiveRank()).isCloseTo(Math.exp(h), within(1e-14));
            assertThat(s.effectiveRank()).isCloseTo(1.7548, within(1e-4));
            assertThat(s.participationRatio()).isCloseTo(16.0 / 10, within(1e-14));
            assertThat(m.get(0, 1)).isEqualTo(1); // left unchanged
            KernelSpectrum inPlace = KernelSpectrum.ofDestroying(m);
            assertThat(inPlace.eigenvalues()).containsExactly(s.eigenvalues());
            assertThat(inPlace.trace()).isEqualTo(4);
        }
    }

    /**
     * {@link KernelSpectrum#ofDestroying} works in the matrix's own storage (the reduction to tridiagonal form of a
     * matrix that is not tridiagonal overwrites it) and finds {@link KernelSpectrum#of}'s spectrum, which leaves the
     * matrix as it was.
     */
    @Test
    void ofDestroyingWorksInTheMatrixAndOfOnACopy() {
        double[] a = {4, 1, 2, 1, 3, 1, 2, 1, 2};
        try (Tensor k = Tensor.of(a, 3, 3); KernelMatrix m = KernelMatrix.of(k)) {
            KernelSpectrum copied = KernelSpectrum.of(m);
            for (int i = 0; i < 9; i++) {
                assertThat(m.get(i / 3, i % 3)).isEqualTo(a[i]);
            }
            KernelSpectrum destroyed = KernelSpectrum.ofDestroying(m);
            double changed = 0;
            for (int i = 0; i < 9; i++) {
                changed += Math.abs(m.get(i / 3, i % 3) - a[i]);
            }
            assertThat(changed).as("the eigensolver worked in m").isGreaterThan(0.1);
            // the characteristic polynomial of a: λ³ − 9λ² + 20λ − 10, so Σλ = 9, Σλ² = 81 − 40 = 41, Πλ = 10
            double[] e = destroyed.eigenvalues();
            assertThat(e[0] + e[1] + e[2]).isCloseTo(9, within(1e-13));
            assertThat(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).isCloseTo(41, within(1e-12));
            assertThat(e[0] * e[1] * e[2]).isCloseTo(10, within(1e-12));
            assertThat(destroyed.trace()).isEqualTo(9);
            assertThat(copied.eigenvalues()).containsExactly(e, within(1e-13));
        }
    }

    @Test
    void identityAndRankOneAreTheExtremes() {
        KernelSpectrum id = KernelSpectrum.ofEigenvalues(new double[] {3, 3, 3, 3, 3});
        assertThat(id.effectiveRank()).isCloseTo(5, within(1e-12));
        assertThat(id.participationRatio()).isCloseTo(5, within(1e-12));
        assertThat(id.conditionNumber()).isEqualTo(1);
        KernelSpectrum one = KernelSpectrum.ofEigenvalues(new double[] {0, 7, -1e-15});
        assertThat(one.effectiveRank()).isEqualTo(1);
        assertThat(one.participationRatio()).isEqualTo(1);
        assertThat(one.conditionNumber()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(one.nonPositiveCount()).isEqualTo(2);
        assertThat(one.lambdaMin()).isEqualTo(-1e-15);
    }

    /**
     * A spectrum of no eigenvalue (d = 0) has no λ_max or λ_min: ofEigenvalues took one and failed later, at
     * lambdaMax(), with an ArrayIndexOutOfBoundsException (and ApproximationReport.numericallySingular with it); it is
     * refused at once, as null is.
     */
    @Test
    void noEigenvaluesAreRefused() {
        assertThatThrownBy(() -> KernelSpectrum.ofEigenvalues(new double[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("eigenvalues: expected at least one (d >= 1), got none");
        assertThatThrownBy(() -> KernelSpectrum.ofEigenvalues(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("eigenvalues: expected an array, got null");
    }

    @Test
    void fullKernelSpectrumIsTheNoByNoMatrixs() {
        // Θ = K ⊗ I_2 has K's eigenvalues twice
        double[] k = {4, 1, 0, 1, 3, 1, 0, 1, 2};
        try (Tensor t = Tensor.of(k, 3, 3); KernelMatrix km = KernelMatrix.of(t);
             Tensor full = Tensor.zeros(DType.F64, 3, 3, 2, 2)) {
            for (int a = 0; a < 3; a++) {
                for (int b = 0; b < 3; b++) {
                    full.set(k[a * 3 + b], a, b, 0, 0);
                    full.set(k[a * 3 + b], a, b, 1, 1);
                }
            }
            try (KernelMatrix fm = KernelMatrix.of(full)) {
                double[] e = KernelSpectrum.of(km).eigenvalues();
                double[] f = KernelSpectrum.of(fm).eigenvalues();
                assertThat(f).hasSize(6);
                for (int i = 0; i < 3; i++) {
                    assertThat(f[2 * i]).isCloseTo(e[i], within(1e-13));
                    assertThat(f[2 * i + 1]).isCloseTo(e[i], within(1e-13));
                }
                assertThat(KernelSpectrum.of(fm).trace()).isEqualTo(18);
            }
        }
    }

    @Test
    void eigenvectorsDiagonaliseTheMatrix() {
        int n = 6;
        try (Tensor a = Tensor.randomNormal(DType.F64, 9, n, n); Tensor s = Tensor.zeros(DType.F64, n, n)) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    s.set(a.get(i, j) + a.get(j, i), i, j);
                }
            }
            try (Tensor v = s.copy()) {
                double[] w = Lapack.symmetricEigenInPlace(v.doublePointer(), n, true);
                for (int e = 0; e < n; e++) { // S v_e = w_e v_e with v_e = row e
                    for (int i = 0; i < n; i++) {
                        double sv = 0;
                        for (int j = 0; j < n; j++) {
                            sv += s.get(i, j) * v.get(e, j);
                        }
                        assertThat(sv).isCloseTo(w[e] * v.get(e, i), within(1e-12));
                    }
                }
                assertThat(w).isSorted();
            }
        }
    }
}
