package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;

/** {@link Tensor}: construction, element access, copies and conversions, rendering. */
class TensorTest {

    @Test
    void constructionAndAccess() {
        try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            assertThat(t.dtype()).isEqualTo(DType.F32);
            assertThat(t.shape()).containsExactly(2, 3);
            assertThat(t.rank()).isEqualTo(2);
            assertThat(t.size()).isEqualTo(6);
            assertThat(t.bytes()).isEqualTo(24);
            assertThat(t.dim(-1)).isEqualTo(3);
            assertThat(t.get(1, 0)).isEqualTo(4);
            t.set(-7, 1, 2);
            assertThat(t.getFlat(5)).isEqualTo(-7);
            assertThat(t.toFloatArray()).containsExactly(1, 2, 3, 4, 5, -7);
            int[] shape = t.shape();
            shape[0] = 99;
            assertThat(t.shape()).as("shape() is a copy").containsExactly(2, 3);
        }
        try (Tensor t = Tensor.of(new double[] {0.1, 0.2}, 2)) {
            assertThat(t.dtype()).isEqualTo(DType.F64);
            assertThat(t.toDoubleArray()).containsExactly(0.1, 0.2);
        }
        try (Tensor z = Tensor.zeros(DType.F64, 3); Tensor f = Tensor.full(DType.F32, 2.5, 2, 2);
             Tensor s = Tensor.scalar(DType.F64, 4)) {
            assertThat(z.toDoubleArray()).containsExactly(0, 0, 0);
            assertThat(f.toDoubleArray()).containsExactly(2.5, 2.5, 2.5, 2.5);
            assertThat(s.rank()).isZero();
            assertThat(s.size()).isEqualTo(1);
            assertThat(s.get()).isEqualTo(4);
        }
        try (Tensor e = Tensor.zeros(DType.F32, 0, 5)) {
            assertThat(e.size()).isZero();
            assertThat(e.toFloatArray()).isEmpty();
            assertThat(e.copy().size()).isZero();
        }
    }

    @Test
    void copiesAreIndependent() {
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2); Tensor c = t.copy(); Tensor r = t.reshape(4)) {
            t.setFlat(0, 100);
            assertThat(c.getFlat(0)).isEqualTo(1);
            assertThat(r.getFlat(0)).isEqualTo(1);
            assertThat(r.shape()).containsExactly(4);
            assertThat(r.toDoubleArray()).containsExactly(1, 2, 3, 4);
        }
    }

    @Test
    void dtypeConversionRounds() {
        try (Tensor d = Tensor.of(new double[] {0.1, 1e-50, 1e50}, 3); Tensor f = d.to(DType.F32);
             Tensor back = f.to(DType.F64); Tensor same = d.to(DType.F64)) {
            assertThat(f.dtype()).isEqualTo(DType.F32);
            assertThat(back.toDoubleArray()).containsExactly((double) 0.1f, 0.0, Double.POSITIVE_INFINITY);
            assertThat(same).isNotSameAs(d);
            assertThat(same.toDoubleArray()).containsExactly(0.1, 1e-50, 1e50);
            assertThat(f.toFloatArray()).containsExactly(0.1f, 0f, Float.POSITIVE_INFINITY);
            assertThat(d.toFloatArray()).containsExactly(0.1f, 0f, Float.POSITIVE_INFINITY);
            assertThat(f.firstNonFinite()).isEqualTo(2);
            assertThat(d.firstNonFinite()).isEqualTo(-1);
        }
    }

    @Test
    void randomNormalIsDeterministicPerSeed() {
        try (Tensor a = Tensor.randomNormal(DType.F64, 7, 1000); Tensor b = Tensor.randomNormal(DType.F64, 7, 1000);
             Tensor c = Tensor.randomNormal(DType.F64, 8, 1000)) {
            Fixtures.assertSameElements("same seed", a.toDoubleArray(), b.toDoubleArray());
            assertThat(a.toDoubleArray()).isNotEqualTo(c.toDoubleArray());
            double mean = 0;
            double sq = 0;
            for (double v : a.toDoubleArray()) {
                mean += v / 1000;
                sq += v * v / 1000;
            }
            assertThat(mean).isBetween(-0.15, 0.15);
            assertThat(sq).isBetween(0.85, 1.15);
        }
    }

    @Test
    void typedViewsCheckTheDtype() {
        try (Tensor f = Tensor.zeros(DType.F32, 2); Tensor d = Tensor.zeros(DType.F64, 2)) {
            assertThat(f.floatPointer()).isNotNull();
            assertThat(d.doublePointer()).isNotNull();
            assertThatThrownBy(f::doublePointer).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("f32");
            assertThatThrownBy(d::floatPointer).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("f64");
            assertThatThrownBy(f::doubles).isExactlyInstanceOf(IllegalStateException.class);
            assertThatThrownBy(d::floats).isExactlyInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void rendering() {
        try (Tensor t = Tensor.of(new float[] {1, 2.5f}, 2)) {
            assertThat(t.toString()).isEqualTo("f32[2] [1.0, 2.5]");
        }
        try (Tensor t = Tensor.zeros(DType.F64, 40)) {
            assertThat(t.toString()).startsWith("f64[40] [0.0, 0.0").endsWith(", 0.0, ...]");
        }
        assertThat(DType.parse("Float32")).isEqualTo(DType.F32);
        assertThat(DType.parse("double")).isEqualTo(DType.F64);
        assertThat(DType.F32.bytes()).isEqualTo(4);
        assertThat(DType.F64.shortName()).isEqualTo("f64");
    }

    /**
     * A view that outlives the tensor it views is refused on every use: its storage may serve another tensor by
     * then (the pool reuses blocks of 1 MiB and more), so reading it would give that tensor's values, and a native
     * copy of freed memory can crash the JVM.
     */
    @Test
    void aViewOfAClosedTensorIsRefusedNotRead() {
        for (int size : new int[] {3, 1 << 19}) { // below and above the storage pool's 1 MiB
            Tensor owner = Tensor.full(DType.F32, 1, size);
            Tensor view = owner.readView();
            assertThat(view.getFlat(0)).isEqualTo(1.0);
            owner.close();
            try (Tensor other = Tensor.full(DType.F32, 42, size)) {
                assertThat(view.isClosed()).isTrue();
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> view.getFlat(0))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessage("view of shape [" + size + "]: the tensor it views was closed (a view must not "
                                + "outlive it)");
                org.assertj.core.api.Assertions.assertThatThrownBy(view::copy)
                        .isInstanceOf(IllegalStateException.class);
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> view.setFlat(0, 2))
                        .isInstanceOf(IllegalStateException.class);
                org.assertj.core.api.Assertions.assertThatThrownBy(view::floats)
                        .isInstanceOf(IllegalStateException.class);
                assertThat(other.getFlat(0)).isEqualTo(42.0);
            }
            view.close(); // closing a view frees nothing, and is harmless here
        }
        // a view of a tensor whose storage reshapeMove handed on reads it there, until that tensor is closed
        Tensor owner = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor view = owner.readView();
        Tensor moved = owner.reshapeMove(4);
        assertThat(view.isClosed()).isFalse();
        assertThat(view.getFlat(3)).isEqualTo(4.0);
        moved.close();
        assertThat(view.isClosed()).isTrue();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> view.getFlat(3))
                .isInstanceOf(IllegalStateException.class);
    }

    /** An empty tensor has no element 0 (its storage holds one); a shape with a zero holds nothing, however large. */
    @Test
    void emptyTensorsHaveNoElementsAndZeroSizedShapesDoNotOverflow() {
        try (Tensor e = Tensor.zeros(DType.F32, 0); Tensor big = Tensor.zeros(DType.F32, 70000, 70000, 0)) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> e.getFlat(0))
                    .isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("flat index 0 is outside [0, 0) of a tensor of shape [0]");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> e.setFlat(-1, 1))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(big.size()).isZero();
            assertThat(Shapes.size(new int[] {0, 70000, 70000})).isZero();
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Shapes.size(new int[] {70000, 70000, 1}))
                .hasMessageContaining("has more than 2^31-1 elements");
    }
}
