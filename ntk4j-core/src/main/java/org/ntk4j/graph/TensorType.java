package org.ntk4j.graph;

import java.util.Arrays;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** The static type of a value in a traced graph: dtype and shape. */
public final class TensorType {
    private final DType dtype;
    private final int[] shape;

    public TensorType(DType dtype, int... shape) {
        this.dtype = dtype;
        this.shape = shape.clone();
        Shapes.size(shape); // validates
    }

    /** The type of a concrete tensor. */
    public static TensorType of(Tensor t) {
        return new TensorType(t.dtype(), t.shape());
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of axis {@code i}; negative counts from the end. */
    public int dim(int i) {
        return shape[Shapes.axis("dim", i, shape.length)];
    }

    public int size() {
        return Shapes.size(shape);
    }

    /** This type with a leading axis of {@code k} (the stacked tangent or cotangent type). */
    public TensorType stacked(int k) {
        return new TensorType(dtype, Shapes.prepend(k, shape));
    }

    /** Same dtype, another shape. */
    public TensorType withShape(int... newShape) {
        return new TensorType(dtype, newShape);
    }

    /** True when a tensor has exactly this dtype and shape. */
    public boolean matches(Tensor t) {
        return t.dtype() == dtype && Arrays.equals(t.shape(), shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorType && ((TensorType) o).dtype == dtype
                && Arrays.equals(((TensorType) o).shape, shape);
    }

    @Override
    public int hashCode() {
        return dtype.hashCode() * 31 + Arrays.hashCode(shape);
    }

    /** {@code f32[2,3]}, as in a jaxpr. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(dtype.shortName()).append('[');
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(shape[i]);
        }
        return sb.append(']').toString();
    }
}
