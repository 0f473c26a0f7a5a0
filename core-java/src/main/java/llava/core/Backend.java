package llava.core;

/**
 * The primitives every device implements. The {@link Tensor} front end does shape checking,
 * broadcasting (by handing in expanded views with stride 0), dtype promotion, output allocation
 * and autograd; a backend only computes. Backends never allocate outputs of ops (scratch space is
 * their business) and may assume the preconditions stated here, which the front end validates
 * before every call (so a native backend never sees bad input).
 *
 * <p>Conventions:
 * <ul>
 * <li>All tensors passed to one call live on this backend's device.
 * <li>"Any strides" means arbitrary non-negative strides including 0 (broadcast); outputs are
 *     never aliased with a stride-0 dimension.
 * <li>"Rows" layout: the op works over the last dimension; the tensor is contiguous and viewed
 *     as [rows, cols].
 * <li>Half types (BF16, F16) are computed in F32 and rounded to nearest-even on store.
 * </ul>
 */
public interface Backend {

    Device.Type deviceType();

    // ---- memory --------------------------------------------------------------------------

    /** Uninitialised storage for {@code numel} elements. Throws {@link OutOfMemoryError}-like
     *  {@link IllegalStateException} naming the request and the allocator's state on failure. */
    Storage allocate(Device device, DType dtype, long numel);

    /** Waits until all queued work on the device is done. */
    default void synchronize(Device device) {}

    /** Allocator statistics: allocated, reserved and peak bytes (CPU: live storage bytes). */
    MemoryStats memoryStats(Device device);

    /** Returns cached, unused blocks to the device. */
    default void emptyCache(Device device) {}

    // ---- data movement -------------------------------------------------------------------

    /** dst = src with dtype conversion. Same shape, any strides (src may be broadcast). */
    void copy(Tensor src, Tensor dst);

    /** Every element of dst (any strides) = value, converted to dst's dtype. */
    void fill(Tensor dst, double value);

    // ---- elementwise ---------------------------------------------------------------------

    /** out = op(x; a, b). Same shape, any strides. out dtype equals x dtype. */
    void unary(UnaryOp op, Tensor x, Tensor out, double a, double b);

    /** gx = gy * op'(x), for ops with {@link UnaryOp#hasFusedBackward()}. Same shape, contiguous. */
    void unaryBackward(UnaryOp op, Tensor x, Tensor gy, Tensor gx);

    /** out = a op b. a, b, out have the same shape (a and b possibly broadcast views) and any
     *  strides; a and b have the same dtype; out has that dtype, or BOOL for comparisons. */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /** out = cond ? a : b. Same shape, any strides; cond is BOOL; a, b, out share a dtype. */
    void where(Tensor cond, Tensor a, Tensor b, Tensor out);

    // ---- reductions ----------------------------------------------------------------------

    /**
     * Reduces x into out. out has x's rank; out.size(d) is x.size(d) or 1 (reduced). Any strides.
     * Same dtype (F32 accumulation for floats; MEAN of integers is not supported).
     */
    void reduce(ReduceOp op, Tensor x, Tensor out);

    /** Index (I64) of the max (or min) along {@code dim}, first one on ties; out has x's rank
     *  with size 1 at dim; values (x's dtype, same shape as indices) may be null. */
    void argReduce(boolean max, Tensor x, int dim, Tensor values, Tensor indices);

    /** Softmax (or log-softmax) over the last dimension. Rows layout, F32 math. */
    void softmax(Tensor x, Tensor out, boolean log);

    /** gx from y = softmax(x) (or log-softmax) and gy. Rows layout. */
    void softmaxBackward(Tensor y, Tensor gy, Tensor gx, boolean log);

    // ---- matmul --------------------------------------------------------------------------

    /**
     * out[..., M, N] = a[..., M, K] @ b[..., K, N] (+ bias[N]). a and b have out's batch dims
     * (possibly broadcast with stride 0) and any strides: a transposed operand is a view, not a
     * copy. a and b share a dtype; out is that dtype or F32; accumulation is in F32 (F64 for F64).
     * bias (nullable) is a contiguous [N] of out's dtype. out is contiguous.
     */
    void matmul(Tensor a, Tensor b, Tensor bias, Tensor out);

    // ---- indexing ------------------------------------------------------------------------

    /** out = x.index_select(dim, index). index is a 1-D I64 or I32; entries are in range
     *  (checked by the front end on CPU-resident indices, by the kernel otherwise). */
    void indexSelect(Tensor x, int dim, Tensor index, Tensor out);

    /** target.index_add_(dim, index, src): target[.., index[i], ..] += src[.., i, ..]. */
    void indexAdd(Tensor target, int dim, Tensor index, Tensor src);

    /** out = x.gather(dim, index); index (I64) has out's shape. */
    void gather(Tensor x, int dim, Tensor index, Tensor out);

    /** target.scatter_add_(dim, index, src); index has src's shape. */
    void scatterAdd(Tensor target, int dim, Tensor index, Tensor src);

    // ---- fused ops (forward + backward) --------------------------------------------------

    /** out = x * rsqrt(mean(x^2) + eps) * weight; rstd (F32 [rows]) kept for backward.
     *  Rows layout; weight [cols] (nullable = 1). Variance in F32. */
    void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd);

    /** gx and gw (nullable; [cols], weight's dtype, summed over rows in F32). */
    void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gw);

    /** out = (x - mean) * rstd * weight + bias; mean and rstd (F32 [rows]) kept for backward. */
    void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd);

    void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                           Tensor gx, Tensor gw, Tensor gb);

    /**
     * Rotary embedding, rotate-half layout, on x [B, T, H, D] (any strides, unit stride in D).
     * angle(b,t,i) = (float) positions[b,t] * invFreq[i] in F32, i < D/2;
     * out[..., i] = x[i] cos - x[i + D/2] sin, out[..., i + D/2] = x[i + D/2] cos + x[i] sin.
     * inverse=true rotates by -angle (that is the backward). positions: I64 [B, T];
     * invFreq: F32 [D/2]. out may be x (in place) or a contiguous tensor of x's shape.
     */
    void rope(Tensor x, Tensor positions, Tensor invFreq, boolean inverse, Tensor out);

    /**
     * Fused scaled dot-product attention. q [B, Hq, Tq, D], k and v [B, Hkv, Tk, D] with
     * Hq % Hkv == 0 (query head h uses kv head h / (Hq/Hkv)); any strides, unit stride in D.
     * keyMask (nullable) BOOL [B, Tk]: false marks padding keys. causal: query i may see key j
     * iff j <= i + (Tk - Tq). A query row that sees no key gets out = 0 and lse = -inf.
     * out [B, Hq, Tq, D] contiguous; lse F32 [B, Hq, Tq] (natural-log logsumexp of the scaled
     * scores), kept for backward. Never materialises a Tq x Tk matrix in global memory.
     */
    void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale,
                   Tensor out, Tensor lse);

    /** Gradients of {@link #attention}: gq like q, gk and gv like k and v (contiguous; summed
     *  over the query heads that share a kv head). */
    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut,
                           Tensor keyMask, boolean causal, double scale, Tensor gq, Tensor gk, Tensor gv);

    /** out = silu(gate) * up. Same shape, contiguous. */
    void siluMul(Tensor gate, Tensor up, Tensor out);

    void siluMulBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp);

    /**
     * Per-row softmax cross-entropy. logits [N, V] (rows layout, any float dtype, F32 math),
     * target I64 [N]. loss F32 [N] = lse - logit[target] (0 where target == ignoreIndex);
     * lse F32 [N] (loss and lse are F64 for F64 logits, CPU only). Targets other than
     * ignoreIndex are in [0, V).
     */
    void crossEntropy(Tensor logits, Tensor target, long ignoreIndex, Tensor loss, Tensor lse);

    /** gLogits[i] = gLoss[i] * (softmax(logits[i]) - onehot(target[i])); 0 for ignored rows.
     *  gLoss [N] has lse's dtype. */
    void crossEntropyBackward(Tensor logits, Tensor target, Tensor lse, Tensor gLoss, long ignoreIndex,
                              Tensor gLogits);

    /**
     * One AdamW step in place (decoupled weight decay, bias correction), over contiguous
     * tensors of equal numel: param, expAvg, expAvgSq are F32; grad is F32 or half.
     * param -= lr * wd * param; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * param -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
     * copyOut (nullable): a half-precision copy of the updated param (the model's weights).
     */
    void adamw(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
               double beta2, double eps, double weightDecay, long step, Tensor copyOut);

    /** Memory statistics in bytes. */
    record MemoryStats(long allocated, long reserved, long peakAllocated) {}
}
