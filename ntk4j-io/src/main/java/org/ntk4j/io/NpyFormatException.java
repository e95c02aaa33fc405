package org.ntk4j.io;

import java.io.IOException;

/**
 * A {@code .npy} or {@code .npz} file that ntk4j cannot read: a bad magic string, a malformed header, a
 * truncated file, or a dtype that is not supported (big-endian data, pickled objects, strings, complex numbers,
 * ...). Fortran-order (column-major) arrays are not among them: they are read, their values given in C order.
 *
 * <p>The message starts with the file (and, in a {@code .npz}, the entry) and then says what is wrong and, where
 * there is one, how to fix the file in NumPy. The message is one line: line breaks in it (a header key or value
 * echoed into it may hold one) are written as backslash-n/-r, as {@link DataFormatException} writes them.
 */
public class NpyFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the given message.
     *
     * @param message what is wrong, starting with the file (and entry)
     */
    public NpyFormatException(String message) {
        super(DataFormatException.oneLine(message));
    }

    /**
     * An exception with the given message and cause.
     *
     * @param message what is wrong, starting with the file (and entry)
     * @param cause the underlying error; may be null
     */
    public NpyFormatException(String message, Throwable cause) {
        super(DataFormatException.oneLine(message), cause);
    }
}
