package org.ntk4j.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.zip.GZIPOutputStream;

/** Builds IDX files for tests (big-endian, as the format says). */
final class IdxFiles {
    private IdxFiles() {
    }

    /** An unsigned-byte IDX file of {@code shape} holding {@code values} (each 0..255). */
    static byte[] u8(int[] values, int... shape) {
        ByteBuffer b = header(0x08, shape, values.length);
        for (int v : values) {
            b.put((byte) v);
        }
        return b.array();
    }

    /** An int32 IDX file. */
    static byte[] i32(int[] values, int... shape) {
        ByteBuffer b = header(0x0C, shape, values.length * 4);
        for (int v : values) {
            b.putInt(v);
        }
        return b.array();
    }

    /** A float64 IDX file. */
    static byte[] f64(double[] values, int... shape) {
        ByteBuffer b = header(0x0E, shape, values.length * 8);
        for (double v : values) {
            b.putDouble(v);
        }
        return b.array();
    }

    /** A float32 IDX file. */
    static byte[] f32(float[] values, int... shape) {
        ByteBuffer b = header(0x0D, shape, values.length * 4);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    /** An int16 IDX file. */
    static byte[] i16(short[] values, int... shape) {
        ByteBuffer b = header(0x0B, shape, values.length * 2);
        for (short v : values) {
            b.putShort(v);
        }
        return b.array();
    }

    static byte[] gzip(byte[] raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * {@code raw} as gzip with its data stored, not compressed (as {@code gzip.compress(b, 0)} writes it): a byte
     * flipped in the middle then changes the data, not the deflate stream, and only the trailer's CRC-32 sees it.
     */
    static byte[] gzipStored(byte[] raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes) {
            {
                def.setLevel(java.util.zip.Deflater.NO_COMPRESSION);
            }
        }) {
            gz.write(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Flips the bits of byte {@code at} of {@code raw} where {@link #gzipStored} stored it in {@code gz}. */
    static void flipStored(byte[] gz, byte[] raw, int at) {
        for (int start = 0; start + raw.length <= gz.length; start++) {
            if (java.util.Arrays.equals(gz, start, start + raw.length, raw, 0, raw.length)) {
                gz[start + at] ^= (byte) 0xff;
                return;
            }
        }
        throw new IllegalArgumentException("the data is not stored whole in the gzip bytes");
    }

    private static ByteBuffer header(int type, int[] shape, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * shape.length + dataBytes); // big-endian by default
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) shape.length);
        for (int d : shape) {
            b.putInt(d);
        }
        return b;
    }
}
