package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.Fixtures.assertExact;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.Fixtures;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** {@link Layout#transpose} and {@link Layout#broadcastInDim}: by hand, and large ones against loops. */
class LayoutTest {

    @ParameterizedTest
    @EnumSource(DType.class)
    void transposeByHand(DType dt) {
        try (Tensor x = Tensor.of(dt, d(1, 2, 3, 4, 5, 6), 2, 3)) {
            try (Tensor y = Layout.transpose(x, s(1, 0))) {
                assertExact(y, s(3, 2), 1, 4, 2, 5, 3, 6);
            }
            try (Tensor y = Layout.transpose(x, s(0, 1))) {
                assertExact(y, s(2, 3), 1, 2, 3, 4, 5, 6);
            }
        }
        // [2,3,2], x = 100 i + 10 j + k; perm [2,0,1] -> y[k][i][j]
        double[] x3 = {0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121};
        try (Tensor x = Tensor.of(dt, x3, 2, 3, 2)) {
            try (Tensor y = Layout.transpose(x, s(2, 0, 1))) {
                assertExact(y, s(2, 2, 3), 0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121);
            }
            try (Tensor y = Layout.transpose(x, s(1, 2, 0))) {
                assertExact(y, s(3, 2, 2), 0, 100, 1, 101, 10, 110, 11, 111, 20, 120, 21, 121);
            }
            try (Tensor y = Layout.transpose(x, s(2, 1, 0))) {
                assertExact(y, s(2, 3, 2), 0, 100, 10, 110, 20, 120, 1, 101, 11, 111, 21, 121);
            }
        }
        try (Tensor x = Tensor.of(dt, d(1, 2, 3), 3, 1); Tensor y = Layout.transpose(x, s(1, 0))) {
            assertExact(y, s(1, 3), 1, 2, 3);
        }
        try (Tensor x = Tensor.of(dt, d(7), new int[0]); Tensor y = Layout.transpose(x, s())) {
            assertExact(y, s(), 7);
        }
        try (Tensor x = Tensor.zeros(dt, 0, 2); Tensor y = Layout.transpose(x, s(1, 0))) {
            assertThat(y.shape()).containsExactly(2, 0);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void broadcastInDimByHand(DType dt) {
        try (Tensor x = Tensor.of(dt, d(1, 2, 3), 3)) {
            try (Tensor y = Layout.broadcastInDim(x, s(2, 3), s(1))) {
                assertExact(y, s(2, 3), 1, 2, 3, 1, 2, 3);
            }
            try (Tensor y = Layout.broadcastInDim(x, s(3, 2), s(0))) {
                assertExact(y, s(3, 2), 1, 1, 2, 2, 3, 3);
            }
            try (Tensor y = Layout.broadcastInDim(x, s(2, 3, 2), s(1))) {
                assertExact(y, s(2, 3, 2), 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
            }
        }
        try (Tensor x = Tensor.of(dt, d(5), new int[0]); Tensor y = Layout.broadcastInDim(x, s(2, 2), s())) {
            assertExact(y, s(2, 2), 5, 5, 5, 5);
        }
        // size-1 operand axes stretch: [2,1] -> [2,3] and [1,2] -> [3,2] (same dims)
        try (Tensor x = Tensor.of(dt, d(1, 2), 2, 1); Tensor y = Layout.broadcastInDim(x, s(2, 3), s(0, 1))) {
            assertExact(y, s(2, 3), 1, 1, 1, 2, 2, 2);
        }
        try (Tensor x = Tensor.of(dt, d(1, 2), 1, 2); Tensor y = Layout.broadcastInDim(x, s(3, 2), s(0, 1))) {
            assertExact(y, s(3, 2), 1, 2, 1, 2, 1, 2);
        }
        // [2,1] into [2,4,3] at dims [0,2]
        try (Tensor x = Tensor.of(dt, d(1, 2), 2, 1); Tensor y = Layout.broadcastInDim(x, s(2, 2, 3), s(0, 2))) {
            assertExact(y, s(2, 2, 3), 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void largeLayoutsAgreeWithLoops(DType dt) {
        int[] shape = {30, 40, 50};
        int[] perm = {2, 0, 1};
        try (Tensor x = Tensor.randomNormal(dt, 4, shape); Tensor y = Layout.transpose(x, perm)) {
            int[] out = Shapes.permute(shape, perm);
            double[] expected = new double[x.size()];
            for (int i = 0; i < expected.length; i++) {
                int[] o = Fixtures.unravel(i, out);
                int[] in = new int[3];
                for (int a = 0; a < 3; a++) {
                    in[perm[a]] = o[a];
                }
                expected[i] = x.get(in);
            }
            assertExact(y, out, expected);
        }
        try (Tensor x = Tensor.randomNormal(dt, 5, 50, 1);
             Tensor y = Layout.broadcastInDim(x, s(20, 50, 60), s(1, 2))) {
            double[] expected = new double[20 * 50 * 60];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = x.get(Fixtures.unravel(i, s(20, 50, 60))[1], 0);
            }
            assertExact(y, s(20, 50, 60), expected);
        }
    }

    /** Every permutation of a shape with sides over and under one tile (the blocked path and its remainders). */
    @ParameterizedTest
    @EnumSource(DType.class)
    void blockedTransposesAgreeWithLoops(DType dt) {
        int[] shape = {37, 33, 5, 40};
        int[][] perms = {{0, 1, 3, 2}, {3, 1, 2, 0}, {1, 3, 0, 2}, {2, 3, 1, 0}, {3, 2, 1, 0}, {0, 3, 1, 2}};
        try (Tensor x = Tensor.randomNormal(dt, 6, shape)) {
            for (int[] perm : perms) {
                try (Tensor y = Layout.transpose(x, perm)) {
                    int[] out = Shapes.permute(shape, perm);
                    double[] expected = new double[x.size()];
                    for (int i = 0; i < expected.length; i++) {
                        int[] o = Fixtures.unravel(i, out);
                        int[] in = new int[4];
                        for (int a = 0; a < 4; a++) {
                            in[perm[a]] = o[a];
                        }
                        expected[i] = x.get(in);
                    }
                    assertExact(y, out, expected);
                }
            }
        }
    }

    @Test
    void stridedCopyChecksDtypes() {
        try (Tensor a = Fixtures.f32(d(1), 1); Tensor b = Fixtures.f64(d(1), 1)) {
            assertThatThrownBy(() -> Layout.stridedCopy(a, 0, s(1), b, 0, s(1), s(1)))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("stridedCopy");
        }
    }
}
