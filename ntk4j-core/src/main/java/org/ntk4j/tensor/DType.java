package org.ntk4j.tensor;

/** Element type of a tensor. Only the two floating types the kernels need. */
public enum DType {
    /** 32-bit IEEE 754 float ({@code float}), 4 bytes per element. */
    F32(4, "f32"),
    /** 64-bit IEEE 754 double ({@code double}), 8 bytes per element. */
    F64(8, "f64");

    private final int bytes;
    private final String shortName;

    DType(int bytes, String shortName) {
        this.bytes = bytes;
        this.shortName = shortName;
    }

    /**
     * Bytes per element.
     *
     * @return 4 for {@link #F32}, 8 for {@link #F64}
     */
    public int bytes() {
        return bytes;
    }

    /**
     * Short name as printed in graphs and accepted on the command line.
     *
     * @return {@code "f32"} or {@code "f64"}
     */
    public String shortName() {
        return shortName;
    }

    /**
     * Parses a dtype name, case-insensitive: {@code f32}, {@code float32} or {@code float} give {@link #F32};
     * {@code f64}, {@code float64} or {@code double} give {@link #F64}.
     *
     * @param text the name; must not be null
     * @return the matching dtype
     * @throws IllegalArgumentException for any other name
     */
    public static DType parse(String text) {
        switch (text.toLowerCase(java.util.Locale.ROOT)) {
            case "f32":
            case "float32":
            case "float":
                return F32;
            case "f64":
            case "float64":
            case "double":
                return F64;
            default:
                throw new IllegalArgumentException("dtype: expected f32 or f64, got '" + text + "'");
        }
    }
}
