package org.ntk4j.io;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * An array read from (or to be written to) a {@code .npy} file, in the file's own element type: what
 * {@link Npy#read} and {@link Npz#read} return, whatever the dtype, e.g. integer labels or {@code uint8} images.
 *
 * <p>The elements live on the Java heap in a primitive array of the file's width ({@code byte[]} for
 * {@code |u1}, {@code long[]} for {@code <i8}, {@code float[]} for {@code <f4}, ...), so an array takes the
 * same memory as its data in the file. For large floating-point data read straight into a tensor instead
 * ({@link Npy#readTensor(java.nio.file.Path, DType)}, {@link Npz#readTensors}), which streams into off-heap
 * storage.
 *
 * <p>Values: booleans read as 0 and 1; unsigned types as their unsigned value, except that {@link #getLong} of a
 * {@code <u8} element at or above 2^63 returns the same 64 bits as a negative {@code long} (as
 * {@link Long#toUnsignedString(long)} reads them); {@link #getDouble} always gives the value rounded to the
 * nearest double.
 */
public final class NpyArray {
    private final NpyDType dtype;
    private final int[] shape;
    private final int size;
    /** byte[], short[], int[], long[], float[] or double[], by item size and kind. */
    private final Object data;

    /** An array of zeros, filled by the reader. */
    NpyArray(NpyDType dtype, int[] shape) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        this.size = Shapes.size(shape);
        switch (dtype) {
            case BOOL:
            case INT8:
            case UINT8:
                data = new byte[size];
                break;
            case INT16:
            case UINT16:
            case FLOAT16:
                data = new short[size];
                break;
            case INT32:
            case UINT32:
                data = new int[size];
                break;
            case INT64:
            case UINT64:
                data = new long[size];
                break;
            case FLOAT32:
                data = new float[size];
                break;
            case FLOAT64:
                data = new double[size];
                break;
            default:
                throw new AssertionError(dtype);
        }
    }

    /**
     * An integer or boolean array holding {@code values} (row-major).
     *
     * @param dtype a non-floating element type
     * @param values the elements, copied; its length must equal the product of {@code shape}
     * @param shape dimensions; none means a scalar
     * @return the array
     * @throws IllegalArgumentException when the dtype is a floating type, the length does not match the shape,
     *     or a value is out of the dtype's range (booleans must be 0 or 1; for {@code UINT64} every {@code long} is
     *     taken as 64 unsigned bits)
     */
    public static NpyArray ofLongs(NpyDType dtype, long[] values, int... shape) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype.isFloating()) {
            throw new IllegalArgumentException("NpyArray.ofLongs: " + dtype + " is a floating type; use ofDoubles");
        }
        NpyArray a = new NpyArray(dtype, shape);
        checkLength("ofLongs", values.length, a);
        long min;
        long max;
        switch (dtype) {
            case BOOL:
                min = 0;
                max = 1;
                break;
            case INT8:
                min = Byte.MIN_VALUE;
                max = Byte.MAX_VALUE;
                break;
            case UINT8:
                min = 0;
                max = 0xFF;
                break;
            case INT16:
                min = Short.MIN_VALUE;
                max = Short.MAX_VALUE;
                break;
            case UINT16:
                min = 0;
                max = 0xFFFF;
                break;
            case INT32:
                min = Integer.MIN_VALUE;
                max = Integer.MAX_VALUE;
                break;
            case UINT32:
                min = 0;
                max = 0xFFFF_FFFFL;
                break;
            default:
                min = Long.MIN_VALUE;
                max = Long.MAX_VALUE;
        }
        for (int i = 0; i < values.length; i++) {
            long v = values[i];
            if (v < min || v > max) {
                throw new IllegalArgumentException("NpyArray.ofLongs: value " + v + " at index " + i
                        + " is out of range for " + dtype + " [" + min + ", " + max + "]");
            }
            switch (dtype.itemSize()) {
                case 1:
                    ((byte[]) a.data)[i] = (byte) v;
                    break;
                case 2:
                    ((short[]) a.data)[i] = (short) v;
                    break;
                case 4:
                    ((int[]) a.data)[i] = (int) v;
                    break;
                default:
                    ((long[]) a.data)[i] = v;
            }
        }
        return a;
    }

    /**
     * A {@code FLOAT16} or {@code FLOAT32} (values rounded to nearest, ties to even) or {@code FLOAT64} array holding
     * {@code values} (row-major).
     *
     * @param dtype {@code FLOAT16}, {@code FLOAT32} or {@code FLOAT64}
     * @param values the elements, copied; its length must equal the product of {@code shape}
     * @param shape dimensions; none means a scalar
     * @return the array
     * @throws IllegalArgumentException for a non-floating dtype or a length that does not match the shape
     */
    public static NpyArray ofDoubles(NpyDType dtype, double[] values, int... shape) {
        Objects.requireNonNull(dtype, "dtype");
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException("NpyArray.ofDoubles: " + dtype + " is not a floating type;"
                    + " use ofLongs");
        }
        NpyArray a = new NpyArray(dtype, shape);
        checkLength("ofDoubles", values.length, a);
        if (dtype == NpyDType.FLOAT64) {
            System.arraycopy(values, 0, a.data, 0, values.length);
        } else if (dtype == NpyDType.FLOAT16) {
            short[] h = (short[]) a.data;
            for (int i = 0; i < values.length; i++) {
                h[i] = NpyDType.doubleToHalf(values[i]);
            }
        } else {
            float[] f = (float[]) a.data;
            for (int i = 0; i < values.length; i++) {
                f[i] = (float) values[i];
            }
        }
        return a;
    }

    /**
     * A copy of a tensor's elements, as {@code FLOAT32} or {@code FLOAT64}.
     *
     * @param tensor the tensor, open; left open
     * @return the array, of the tensor's shape, on the Java heap
     */
    public static NpyArray of(Tensor tensor) {
        NpyArray a = new NpyArray(NpyDType.of(tensor.dtype()), tensor.shape());
        if (tensor.dtype() == DType.F32) {
            tensor.floatPointer().get((float[]) a.data);
        } else {
            tensor.doublePointer().get((double[]) a.data);
        }
        return a;
    }

    private static void checkLength(String op, int length, NpyArray a) {
        if (length != a.size) {
            throw new IllegalArgumentException("NpyArray." + op + ": shape " + Shapes.str(a.shape) + " needs "
                    + a.size + " values, got " + length);
        }
    }

    /**
     * The element type.
     *
     * @return the element type (as in the file)
     */
    public NpyDType dtype() {
        return dtype;
    }

    /**
     * The NumPy type string.
     *
     * @return the type string, e.g. {@code |u1}
     */
    public String descr() {
        return dtype.descr();
    }

    /**
     * The shape.
     *
     * @return a copy of the shape (empty for a scalar)
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
     * The number of elements.
     *
     * @return the product of the shape (1 for a scalar)
     */
    public int size() {
        return size;
    }

    /**
     * Element {@code i} (row-major) as a {@code long}.
     *
     * @param i the flat index, in [0, size)
     * @return the element; a {@code <u8} value at or above 2^63 as a negative {@code long} of the same bits
     * @throws IndexOutOfBoundsException if {@code i} is outside [0, size)
     * @throws ArithmeticException for a floating-point element that is not a whole number in the range of
     *     {@code long} (NaN, infinite, fractional or too large)
     */
    public long getLong(int i) {
        Objects.checkIndex(i, size);
        switch (dtype) {
            case BOOL:
                return ((byte[]) data)[i] != 0 ? 1 : 0;
            case INT8:
                return ((byte[]) data)[i];
            case UINT8:
                return ((byte[]) data)[i] & 0xFF;
            case INT16:
                return ((short[]) data)[i];
            case UINT16:
                return ((short[]) data)[i] & 0xFFFF;
            case INT32:
                return ((int[]) data)[i];
            case UINT32:
                return ((int[]) data)[i] & 0xFFFF_FFFFL;
            case INT64:
            case UINT64:
                return ((long[]) data)[i];
            case FLOAT16:
                return exactLong(NpyDType.halfToDouble(((short[]) data)[i]), i);
            case FLOAT32:
                return exactLong(((float[]) data)[i], i);
            case FLOAT64:
                return exactLong(((double[]) data)[i], i);
            default:
                throw new AssertionError(dtype);
        }
    }

    private long exactLong(double v, int i) {
        // 2^63 is exactly representable; every double below it in magnitude that is whole fits in a long.
        if (v != Math.rint(v) || v >= 0x1p63 || v < -0x1p63) {
            throw new ArithmeticException("element " + i + " of a '" + dtype.descr() + "' array is " + v
                    + ", not a whole number in the range of long");
        }
        return (long) v;
    }

    /**
     * Element {@code i} (row-major) as a {@code double}.
     *
     * @param i the flat index, in [0, size)
     * @return the element, 64-bit integers rounded to the nearest double
     * @throws IndexOutOfBoundsException if {@code i} is outside [0, size)
     */
    public double getDouble(int i) {
        Objects.checkIndex(i, size);
        switch (dtype) {
            case FLOAT16:
                return NpyDType.halfToDouble(((short[]) data)[i]);
            case FLOAT32:
                return ((float[]) data)[i];
            case FLOAT64:
                return ((double[]) data)[i];
            case UINT64:
                return NpyIO.unsignedToDouble(((long[]) data)[i]);
            default:
                return getLong(i);
        }
    }

    /**
     * All elements as {@code long}s; see {@link #getLong} for floating-point arrays.
     *
     * @return a new array of {@link #size()} elements, row-major
     * @throws ArithmeticException for a floating-point element that is not a whole number in the range of long
     */
    public long[] toLongArray() {
        long[] r = new long[size];
        for (int i = 0; i < size; i++) {
            r[i] = getLong(i);
        }
        return r;
    }

    /**
     * All elements as {@code double}s.
     *
     * @return a new array of {@link #size()} elements, row-major
     */
    public double[] toDoubleArray() {
        if (dtype == NpyDType.FLOAT64) {
            return ((double[]) data).clone();
        }
        double[] r = new double[size];
        for (int i = 0; i < size; i++) {
            r[i] = getDouble(i);
        }
        return r;
    }

    /**
     * A new tensor of {@code target} type with this array's shape and values.
     *
     * @param target the tensor type; floating values are converted (rounded for {@link DType#F32}), integers exactly
     * @return the tensor, which the caller closes
     * @throws IllegalArgumentException if a finite value is beyond float32's range and target is F32, or an integer
     *     is one the target cannot hold exactly (beyond 2^24 in magnitude for F32, 2^53 for F64, but for multiples
     *     of powers of two)
     */
    public Tensor toTensor(DType target) {
        return toTensor(target, "array");
    }

    /** As {@link #toTensor(DType)}; {@code source} (the file and entry) starts the message of a refusal. */
    Tensor toTensor(DType target, String source) {
        Objects.requireNonNull(target, "target");
        if (NpyIO.wideInteger(dtype)) {
            for (int i = 0; i < size; i++) {
                NpyIO.requireExactInteger(dtype, getLong(i), target, source, i);
            }
        }
        Tensor t = Tensor.empty(target, shape);
        if (target == DType.F32 && dtype == NpyDType.FLOAT32) {
            t.floatPointer().put((float[]) data);
        } else if (target == DType.F64 && dtype == NpyDType.FLOAT64) {
            t.doublePointer().put((double[]) data);
        } else if (target == DType.F64) {
            t.doublePointer().put(toDoubleArray());
        } else {
            float[] f = new float[size];
            try {
                for (int i = 0; i < size; i++) {
                    f[i] = NpyIO.toFloat(getDouble(i), source, i);
                }
            } catch (IllegalArgumentException e) {
                t.close();
                throw e;
            }
            t.floatPointer().put(f);
        }
        t.trackWritesFromNow(); // filled through its pointer, which is gone: later writes are tracked
        return t;
    }

    /** Stores chunk elements (file layout, little-endian) as elements {@code first...} of this array. */
    void readChunk(ByteBuffer chunk, int first, int count) {
        switch (dtype.itemSize()) {
            case 1:
                chunk.get(0, (byte[]) data, first, count);
                break;
            case 2:
                chunk.asShortBuffer().get(0, (short[]) data, first, count);
                break;
            case 4:
                if (dtype == NpyDType.FLOAT32) {
                    chunk.asFloatBuffer().get(0, (float[]) data, first, count);
                } else {
                    chunk.asIntBuffer().get(0, (int[]) data, first, count);
                }
                break;
            default:
                if (dtype == NpyDType.FLOAT64) {
                    chunk.asDoubleBuffer().get(0, (double[]) data, first, count);
                } else {
                    chunk.asLongBuffer().get(0, (long[]) data, first, count);
                }
        }
    }

    /**
     * Stores chunk elements {@code from ... from + count - 1} (file layout, little-endian) as elements
     * {@code first, first + stride, ...} of this array: a run of a Fortran-order file ({@link NpyIO#readFortran}).
     */
    void readStrided(ByteBuffer chunk, int from, int count, int first, int stride) {
        long at = first;
        switch (dtype.itemSize()) {
            case 1:
                byte[] b = (byte[]) data;
                for (int i = from; i < from + count; i++, at += stride) {
                    b[(int) at] = chunk.get(i);
                }
                break;
            case 2:
                short[] h = (short[]) data;
                for (int i = from; i < from + count; i++, at += stride) {
                    h[(int) at] = chunk.getShort(2 * i);
                }
                break;
            case 4:
                if (dtype == NpyDType.FLOAT32) {
                    float[] f = (float[]) data;
                    for (int i = from; i < from + count; i++, at += stride) {
                        f[(int) at] = chunk.getFloat(4 * i);
                    }
                } else {
                    int[] w = (int[]) data;
                    for (int i = from; i < from + count; i++, at += stride) {
                        w[(int) at] = chunk.getInt(4 * i);
                    }
                }
                break;
            default:
                if (dtype == NpyDType.FLOAT64) {
                    double[] d = (double[]) data;
                    for (int i = from; i < from + count; i++, at += stride) {
                        d[(int) at] = chunk.getDouble(8 * i);
                    }
                } else {
                    long[] l = (long[]) data;
                    for (int i = from; i < from + count; i++, at += stride) {
                        l[(int) at] = chunk.getLong(8 * i);
                    }
                }
        }
    }

    /** Puts elements {@code first...} of this array into a chunk in file layout. */
    void writeChunk(ByteBuffer chunk, int first, int count) {
        switch (dtype.itemSize()) {
            case 1:
                chunk.put(0, (byte[]) data, first, count);
                break;
            case 2:
                chunk.asShortBuffer().put(0, (short[]) data, first, count);
                break;
            case 4:
                if (dtype == NpyDType.FLOAT32) {
                    chunk.asFloatBuffer().put(0, (float[]) data, first, count);
                } else {
                    chunk.asIntBuffer().put(0, (int[]) data, first, count);
                }
                break;
            default:
                if (dtype == NpyDType.FLOAT64) {
                    chunk.asDoubleBuffer().put(0, (double[]) data, first, count);
                } else {
                    chunk.asLongBuffer().put(0, (long[]) data, first, count);
                }
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append('\'').append(dtype.descr()).append("' ").append(Arrays.toString(shape)).append(" [");
        int shown = Math.min(size, 16);
        for (int i = 0; i < shown; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            if (dtype.isFloating()) {
                sb.append(getDouble(i));
            } else if (dtype == NpyDType.UINT64) {
                sb.append(Long.toUnsignedString(getLong(i)));
            } else {
                sb.append(getLong(i));
            }
        }
        if (shown < size) {
            sb.append(", ...");
        }
        return sb.append(']').toString();
    }
}
