package org.ntk4j.tensor;

/** Element type of a tensor. Only the two floating types the kernels need. */
public enum DType {
    F32(4, "f32"),
    F64(8, "f64");

    private final int bytes;
    private final String shortName;

    DType(int bytes, String shortName) {
        this.bytes = bytes;
        this.shortName = shortName;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** Short name as printed in graphs and accepted on the command line: {@code f32}, {@code f64}. */
    public String shortName() {
        return shortName;
    }

    /** Parses {@code f32}/{@code float32}/{@code f64}/{@code float64}, case-insensitive. */
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
