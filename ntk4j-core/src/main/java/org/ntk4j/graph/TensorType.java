package org.ntk4j.graph;

import java.util.Arrays;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** The static type of a value in a traced graph: dtype and shape. */
public final class TensorType {
    private final DType dtype;
    private final int[] shape;

    /**
     * A type of the given dtype and shape; the shape is copied.
     *
     * @param dtype the element type
     * @param shape the dimensions, each non-negative; empty for a scalar
     * @throws IllegalArgumentException when a dimension is negative or the shape has more than 2^31-1 elements
     */
    public TensorType(DType dtype, int... shape) {
        this.dtype = dtype;
        this.shape = shape.clone();
        Shapes.size(shape); // validates
    }

    /**
     * The type of a concrete tensor.
     *
     * @param t the tensor (it may be closed; only its dtype and shape are read)
     * @return its dtype and shape
     */
    public static TensorType of(Tensor t) {
        return new TensorType(t.dtype(), t.shape());
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * A copy of the shape.
     *
     * @return the dimensions; changing the array does not change this type
     */
    public int[] shape() {
        return shape.clone();
    }

    /**
     * The number of axes.
     *
     * @return the rank, 0 for a scalar
     */
    public int rank() {
        return shape.length;
    }

    /**
     * Size of axis {@code i}; negative counts from the end.
     *
     * @param i the axis, in {@code -rank .. rank-1}
     * @return the size of that axis
     * @throws IllegalArgumentException when the axis is out of range
     */
    public int dim(int i) {
        return shape[Shapes.axis("dim", i, shape.length)];
    }

    /**
     * The number of elements.
     *
     * @return the product of the dimensions (1 for a scalar)
     */
    public int size() {
        return Shapes.size(shape);
    }

    /**
     * This type with a leading axis of {@code k} (the stacked tangent or cotangent type).
     *
     * @param k the size of the new leading axis
     * @return {@code dtype[k, shape...]}
     * @throws IllegalArgumentException when {@code k} is negative or the result has more than 2^31-1 elements
     */
    public TensorType stacked(int k) {
        return new TensorType(dtype, Shapes.prepend(k, shape));
    }

    /**
     * Same dtype, another shape.
     *
     * @param newShape the new dimensions (need not have the same size)
     * @return a type of this dtype and {@code newShape}
     * @throws IllegalArgumentException when a dimension is negative or the shape has more than 2^31-1 elements
     */
    public TensorType withShape(int... newShape) {
        return new TensorType(dtype, newShape);
    }

    /**
     * True when a tensor has exactly this dtype and shape.
     *
     * @param t the tensor
     * @return whether its dtype and shape equal this type's
     */
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
