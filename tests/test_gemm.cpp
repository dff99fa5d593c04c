// Tests for core/gemm and core/small_gemm: the fast kernels against the textbook triple loop, over shapes
// that land on and beside every tile and block edge, all four transpose combinations, odd strides,
// accumulate on and off, batches (with broadcast operands), and bit-identical results on 1 and 2 threads.
//
// Dimension legend: M rows of A and C, N columns of B and C, K the summed dimension.
// The kernel's tiles (core/gemm.cpp): MR = 13 (AVX-512) or 6 rows, NR = 32 floats / 16 doubles (AVX-512)
// or 16 / 8 (AVX2, NEON) or 8 / 4 (SSE) columns, K blocks of at most 384 floats / 192 doubles, N blocks of
// at most 640 columns.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/gemm.h"
#include "core/simd.h"
#include "core/small_gemm.h"

using namespace patchgrad;

namespace {

// A deterministic generator (Knuth's MMIX LCG): the same values on every platform and run.
struct Lcg {
    uint64_t state;
    // uniform in [-1, 1)
    Scalar next() {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return Scalar(double(state >> 11) / double(1ULL << 53) * 2.0 - 1.0);
    }
};

// How an operand is laid out in memory, for a logical (rows, cols) matrix.
enum class Layout {
    RowMajor,    // stored (rows, cols):            view {data, cols, 1}
    Transposed,  // stored (cols, rows), i.e. X^T:   view {data, 1, rows}
    Strided,     // neither stride is 1:             view {data, 2, 2 * rows + 1}
};
const char* name(Layout layout) {
    return layout == Layout::RowMajor ? "row-major" : layout == Layout::Transposed ? "transposed" : "strided";
}

// A logical (rows, cols) matrix of random values stored in `layout`.
struct Operand {
    std::vector<Scalar> storage;
    MatrixView view;
    Operand(int64_t rows, int64_t cols, Layout layout, Lcg& rng) {
        int64_t rs = cols, cs = 1;
        if (layout == Layout::Transposed) rs = 1, cs = rows;
        if (layout == Layout::Strided) rs = 2, cs = 2 * rows + 1;
        // +1 so that a (0, n) or (n, 0) operand still has a valid pointer
        storage.resize(size_t(rows > 0 && cols > 0 ? (rows - 1) * rs + (cols - 1) * cs + 1 : 1));
        for (Scalar& x : storage) x = rng.next();
        view = {storage.data(), rs, cs};
    }
    Scalar at(int64_t i, int64_t j) const { return view.data[i * view.row_stride + j * view.col_stride]; }
};

// The worst violation of  |fast - reference| <= tol,  tol = 4 (K + 2) eps (|C0| + sum_k |a_ik| |b_kj|),
// over the (M, N) block of C (leading dimension ldc); 0 when every element is within tolerance. Both results
// are sums of K + 1 rounded terms, each off by at most about (K + 1) eps times the sum of magnitudes.
double worst_violation(int64_t M, int64_t N, int64_t K, const Operand& A, const Operand& B, const std::vector<Scalar>& C0,
                       bool accumulate, const std::vector<Scalar>& fast, const std::vector<Scalar>& reference,
                       int64_t ldc) {
    const double eps = std::numeric_limits<Scalar>::epsilon();
    double worst = 0;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double magnitude = accumulate ? std::fabs(double(C0[size_t(i * ldc + j)])) : 0.0;
            for (int64_t k = 0; k < K; ++k) magnitude += std::fabs(double(A.at(i, k)) * double(B.at(k, j)));
            const double tol = 4 * double(K + 2) * eps * magnitude + std::numeric_limits<Scalar>::min();
            const double err = std::fabs(double(fast[size_t(i * ldc + j)]) - double(reference[size_t(i * ldc + j)]));
            if (!(err <= tol)) worst = std::max(worst, std::isnan(err) ? 1e300 : err / tol);
        }
    return worst;
}

// gemm (M, N, K) with A and B in the given layouts against gemm_reference. C has ldc = N + 3: the three
// padding columns hold random values that must come out untouched.
void check_gemm(int64_t M, int64_t N, int64_t K, Layout a_layout, Layout b_layout, bool accumulate) {
    Lcg rng{uint64_t(M * 1000003 + N * 1009 + K)};
    Operand A(M, K, a_layout, rng), B(K, N, b_layout, rng);
    const int64_t ldc = N + 3;
    std::vector<Scalar> C0(size_t(std::max<int64_t>(M, 1) * ldc));
    for (Scalar& x : C0) x = rng.next();
    std::vector<Scalar> fast = C0, reference = C0;
    gemm(M, N, K, A.view, B.view, fast.data(), ldc, accumulate);
    gemm_reference(M, N, K, A.view, B.view, reference.data(), ldc, accumulate);

    INFO("gemm M=", M, " N=", N, " K=", K, " A ", name(a_layout), " B ", name(b_layout), " accumulate=", accumulate);
    CHECK(worst_violation(M, N, K, A, B, C0, accumulate, fast, reference, ldc) == 0);
    bool padding_untouched = true;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = N; j < ldc; ++j) padding_untouched &= fast[size_t(i * ldc + j)] == C0[size_t(i * ldc + j)];
    CHECK(padding_untouched);
}

const Layout kLayouts[] = {Layout::RowMajor, Layout::Transposed, Layout::Strided};

}  // namespace

TEST_CASE("gemm: tiny and degenerate shapes, every layout, accumulate on and off") {
    const int64_t sizes[] = {0, 1, 2, 3, 7};
    for (int64_t M : sizes)
        for (int64_t N : sizes)
            for (int64_t K : sizes)
                for (Layout a : kLayouts)
                    for (Layout b : kLayouts)
                        for (bool accumulate : {false, true}) check_gemm(M, N, K, a, b, accumulate);
}

TEST_CASE("gemm: shapes beside the register tile (MR = 6 or 13 rows, NR = 8, 16 or 32 columns, W = 4, 8 or 16)") {
    const int64_t rows[] = {5, 6, 7, 12, 13, 14, 25, 26, 27, 65};
    const int64_t cols[] = {3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65};
    for (int64_t M : rows)
        for (int64_t N : cols)
            for (bool accumulate : {false, true}) {
                check_gemm(M, N, 32, Layout::RowMajor, Layout::RowMajor, accumulate);
                check_gemm(M, N, 11, Layout::Transposed, Layout::Transposed, accumulate);
            }
}

TEST_CASE("gemm: the four transpose combinations at sizes beside the K and N blocks and prime sizes") {
    // K blocks: at most 384 floats / 192 doubles; N blocks: at most 640 columns.
    struct Shape {
        int64_t M, N, K;
    };
    const Shape shapes[] = {{13, 33, 191}, {14, 31, 192}, {12, 32, 193}, {27, 17, 383}, {26, 64, 384},
                            {25, 65, 385}, {7, 639, 5},   {13, 640, 9},  {6, 641, 17},  {3, 1283, 2},
                            {97, 89, 83},  {101, 37, 769}, {1, 701, 3},  {701, 1, 3},   {131, 67, 1}};
    for (const Shape& s : shapes)
        for (Layout a : {Layout::RowMajor, Layout::Transposed})
            for (Layout b : {Layout::RowMajor, Layout::Transposed})
                for (bool accumulate : {false, true}) check_gemm(s.M, s.N, s.K, a, b, accumulate);
}

TEST_CASE("gemm: products big enough to run on several threads, odd strides") {
    for (Layout a : kLayouts)
        for (Layout b : kLayouts) {
            check_gemm(211, 97, 400, a, b, false);  // several K blocks, many row strips
            check_gemm(5, 1500, 200, a, b, true);   // one row strip: the N block is cut into chunks
            check_gemm(130, 64, 200, a, b, false);  // few strips, one K block, full panels: a row-major B
                                                    // is read in place, with no packing and no barriers
            check_gemm(64, 64, 900, a, b, true);    // 5 strips on 2 threads: cut into chunks of panels too,
                                                    // each packed A strip reused by its two chunks
        }
}

TEST_CASE("gemm: operands whose rows or columns lie a multiple of 4 KiB apart") {
    // The kernel reads a full strip of A where it lies, except when the lines it reads are 4 KiB apart
    // (they would evict each other from L1): a row-major strip is then copied row by row, any other strip
    // packed. Both copies must give the reference's numbers, over several K blocks and N panels.
    const int64_t n4k = 4096 / int64_t(sizeof(Scalar));  // numbers in 4 KiB: 1024 floats, 512 doubles
    for (bool accumulate : {false, true}) {
        check_gemm(30, 200, n4k, Layout::RowMajor, Layout::RowMajor, accumulate);     // rows n4k apart: copied
        check_gemm(30, 200, n4k, Layout::RowMajor, Layout::Transposed, accumulate);
        check_gemm(n4k, 70, 50, Layout::Transposed, Layout::RowMajor, accumulate);    // columns n4k apart: packed
        check_gemm(40, 70, 2 * n4k, Layout::RowMajor, Layout::RowMajor, accumulate);  // 8 KiB apart
    }
}

TEST_CASE("gemm: a long sum into a small C, K cut into four groups, against the reference") {
    // K >= 4096 and M * N <= 128 Ki numbers: a weight's gradient. K = 4099 leaves a short last group;
    // M = 64 gives a short last strip; every layout of both operands.
    for (Layout a : kLayouts)
        for (Layout b : kLayouts) {
            check_gemm(64, 40, 4099, a, b, true);
            check_gemm(13, 33, 4096, a, b, false);
        }
    check_gemm(130, 70, 4500, Layout::Transposed, Layout::RowMajor, true);  // as dW = dout^T x
    check_gemm(3, 2, 100000, Layout::RowMajor, Layout::Transposed, false);
}

TEST_CASE("gemm: the split of K is the documented sum of four group products, in group order") {
    // C = (((((C or 0) + P0) + P1) + P2) + P3) + bias, P_g = A[:, group g] @ B[group g, :], the groups
    // ceil(K / 4) terms long. Each P_g alone has K < 4096, so gemm computes it blocked, unsplit.
    const int64_t M = 50, N = 70, K = 5001, group = (K + 3) / 4;
    Lcg rng{7};
    Operand A(M, K, Layout::Transposed, rng), B(K, N, Layout::RowMajor, rng);
    std::vector<Scalar> bias(static_cast<size_t>(N)), C0(static_cast<size_t>(M * N));
    for (Scalar& x : bias) x = rng.next();
    for (Scalar& x : C0) x = rng.next();
    for (bool accumulate : {false, true}) {
        std::vector<Scalar> expected = C0;
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
                if (!accumulate) expected[size_t(i * N + j)] = 0;
        for (int64_t g = 0; g < 4; ++g) {
            const int64_t k0 = g * group, k_g = std::min(group, K - k0);
            std::vector<Scalar> partial(size_t(M * N));
            gemm(M, N, k_g, {A.view.data + k0 * A.view.col_stride, A.view.row_stride, A.view.col_stride},
                 {B.view.data + k0 * B.view.row_stride, B.view.row_stride, B.view.col_stride}, partial.data(), N,
                 false);
            for (size_t e = 0; e < partial.size(); ++e) expected[e] += partial[e];
        }
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) expected[size_t(i * N + j)] += bias[size_t(j)];
        std::vector<Scalar> got = C0;
        gemm(M, N, K, A.view, B.view, got.data(), N, accumulate, bias.data());
        INFO("accumulate=", accumulate);
        CHECK(std::memcmp(got.data(), expected.data(), got.size() * sizeof(Scalar)) == 0);
    }
}

TEST_CASE("gemm: K = 0 is an empty sum") {
    std::vector<Scalar> C = {1, 2, 3, 4, 5, 6};  // (2, 3)
    Scalar dummy = 7;
    MatrixView A{&dummy, 0, 1}, B{&dummy, 3, 1};
    gemm(2, 3, 0, A, B, C.data(), 3, true);  // C = C + 0
    CHECK(C == std::vector<Scalar>{1, 2, 3, 4, 5, 6});
    gemm(2, 3, 0, A, B, C.data(), 3, false);  // C = 0
    CHECK(C == std::vector<Scalar>(6, 0));
}

TEST_CASE("gemm: a value worked out by hand") {
    // [1 2 3]   [ 7  8]   [1*7 + 2*9 + 3*11  1*8 + 2*10 + 3*12]   [ 58  64]
    // [4 5 6] @ [ 9 10] = [4*7 + 5*9 + 6*11  4*8 + 5*10 + 6*12] = [139 154]
    //           [11 12]
    const std::vector<Scalar> a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12};
    std::vector<Scalar> c(4, -1);
    gemm(2, 2, 3, {a.data(), 3, 1}, {b.data(), 2, 1}, c.data(), 2, false);
    CHECK(c == std::vector<Scalar>{58, 64, 139, 154});
    // A^T @ B with A stored (3, 2) = [[1 4] [2 5] [3 6]]: the same product, through the strides
    const std::vector<Scalar> a_t = {1, 4, 2, 5, 3, 6};
    gemm(2, 2, 3, {a_t.data(), 1, 2}, {b.data(), 2, 1}, c.data(), 2, true);
    CHECK(c == std::vector<Scalar>{116, 128, 278, 308});
}

TEST_CASE("gemm: bad sizes throw") {
    Scalar x = 0;
    CHECK_THROWS_AS(gemm(-1, 2, 2, {&x, 1, 1}, {&x, 1, 1}, &x, 2, false), std::invalid_argument);
    CHECK_THROWS_AS(gemm(3, 4, 2, {&x, 1, 1}, {&x, 1, 1}, &x, 2, false), std::invalid_argument);  // ldc < N
}

// ---- gemm_batched --------------------------------------------------------------------------------------

namespace {

// gemm_batched against gemm_reference product by product. a_shared / b_shared: that operand has batch
// stride 0 (one matrix broadcast over the batch).
void check_batched(int64_t batch, int64_t M, int64_t N, int64_t K, Layout a_layout, Layout b_layout, bool a_shared,
                   bool b_shared, bool accumulate) {
    Lcg rng{uint64_t(batch * 7919 + M * 101 + N * 13 + K)};
    const int64_t a_count = a_shared || batch == 0 ? 1 : batch, b_count = b_shared || batch == 0 ? 1 : batch;
    std::vector<Operand> As, Bs;  // product i's operands (reserved: each view points into its own storage)
    As.reserve(size_t(a_count));
    Bs.reserve(size_t(b_count));
    for (int64_t i = 0; i < a_count; ++i) As.emplace_back(M, K, a_layout, rng);
    for (int64_t i = 0; i < b_count; ++i) Bs.emplace_back(K, N, b_layout, rng);
    // Copy them into single buffers with a fixed batch stride (the size of one stored operand).
    const int64_t a_stride = int64_t(As[0].storage.size()), b_stride = int64_t(Bs[0].storage.size());
    std::vector<Scalar> a_buf, b_buf;
    for (auto& A : As) a_buf.insert(a_buf.end(), A.storage.begin(), A.storage.end());
    for (auto& B : Bs) b_buf.insert(b_buf.end(), B.storage.begin(), B.storage.end());
    const int64_t ldc = N + 1, c_stride = M * ldc + 5;
    std::vector<Scalar> C0(size_t(batch * c_stride + 1));
    for (Scalar& x : C0) x = rng.next();
    std::vector<Scalar> fast = C0, reference = C0;

    gemm_batched(batch, M, N, K, {a_buf.data(), As[0].view.row_stride, As[0].view.col_stride}, a_shared ? 0 : a_stride,
                 {b_buf.data(), Bs[0].view.row_stride, Bs[0].view.col_stride}, b_shared ? 0 : b_stride, fast.data(), ldc,
                 c_stride, accumulate);
    INFO("gemm_batched batch=", batch, " M=", M, " N=", N, " K=", K, " A ", name(a_layout), a_shared ? " shared" : "",
         " B ", name(b_layout), b_shared ? " shared" : "", " accumulate=", accumulate);
    double worst = 0;
    for (int64_t i = 0; i < batch; ++i) {
        const Operand& A = As[size_t(a_shared ? 0 : i)];
        const Operand& B = Bs[size_t(b_shared ? 0 : i)];
        gemm_reference(M, N, K, A.view, B.view, reference.data() + i * c_stride, ldc, accumulate);
        // worst_violation reads the (M, N) block at offset 0: hand it product i's slice of C.
        auto slice = [&](const std::vector<Scalar>& v) {
            return std::vector<Scalar>(v.begin() + i * c_stride, v.begin() + (i + 1) * c_stride);
        };
        worst = std::max(worst, worst_violation(M, N, K, A, B, slice(C0), accumulate, slice(fast), slice(reference), ldc));
    }
    CHECK(worst == 0);
}

}  // namespace

TEST_CASE("gemm_batched: many small products (split across the batch), broadcast operands") {
    for (bool a_shared : {false, true})
        for (bool b_shared : {false, true})
            for (bool accumulate : {false, true}) {
                check_batched(9, 65, 65, 32, Layout::RowMajor, Layout::Transposed, a_shared, b_shared, accumulate);
                check_batched(7, 13, 32, 65, Layout::RowMajor, Layout::RowMajor, a_shared, b_shared, accumulate);
                check_batched(5, 3, 5, 7, Layout::Transposed, Layout::Strided, a_shared, b_shared, accumulate);
            }
    check_batched(0, 4, 4, 4, Layout::RowMajor, Layout::RowMajor, false, false, false);
    check_batched(1, 40, 50, 60, Layout::RowMajor, Layout::RowMajor, false, false, false);
    check_batched(4, 9, 20, 4100, Layout::Transposed, Layout::RowMajor, false, false, true);  // K cut into groups
}

TEST_CASE("gemm_batched: a few large products (split inside each product)") {
    check_batched(3, 200, 160, 150, Layout::RowMajor, Layout::RowMajor, false, false, true);
    check_batched(3, 150, 200, 160, Layout::Transposed, Layout::Transposed, false, true, false);
}

TEST_CASE("gemm_batched: c_batch_stride = 0 sums the products into one C") {
    // A_i = [[i + 1]], B_i = [[2]]:  C = 10 + 1*2 + 2*2 + 3*2 = 22  (accumulate);  12 without
    const std::vector<Scalar> a = {1, 2, 3};
    const Scalar b = 2;
    Scalar c = 10;
    gemm_batched(3, 1, 1, 1, {a.data(), 1, 1}, 1, {&b, 1, 1}, 0, &c, 1, 0, true);
    CHECK(c == 22);
    gemm_batched(3, 1, 1, 1, {a.data(), 1, 1}, 1, {&b, 1, 1}, 0, &c, 1, 0, false);
    CHECK(c == 12);
}

// ---- Threads -------------------------------------------------------------------------------------------

#ifdef _OPENMP
namespace {

// Runs f() with OpenMP limited to `threads`, restoring the previous limit afterwards.
template <class F>
void with_threads(int threads, F f) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    f();
    omp_set_num_threads(before);
}

}  // namespace

TEST_CASE("gemm: bit-identical results on 1 and 2 threads") {
    struct Shape {
        int64_t M, N, K;
    };
    // many strips; several K and N blocks; one strip with the N block cut into chunks; edge tiles everywhere
    // {130, 64, 200}: B read in place (few strips, one K block, full panels); {64, 64, 2000}: 5 strips,
    // an odd number, so 2 threads also cut the columns into chunks
    // {64, 64, 5000}: K cut into four groups, two for each thread
    const Shape shapes[] = {{300, 200, 100}, {97, 1300, 800}, {5, 2000, 300}, {131, 67, 1000}, {130, 64, 200},
                            {64, 64, 2000}, {64, 64, 5000}};
    for (const Shape& s : shapes)
        for (Layout a : {Layout::RowMajor, Layout::Transposed})
            for (bool accumulate : {false, true}) {
                Lcg rng{42};
                Operand A(s.M, s.K, a, rng), B(s.K, s.N, Layout::RowMajor, rng);
                std::vector<Scalar> C0(size_t(s.M * s.N));
                for (Scalar& x : C0) x = rng.next();
                std::vector<Scalar> one = C0, two = C0;
                with_threads(1, [&] { gemm(s.M, s.N, s.K, A.view, B.view, one.data(), s.N, accumulate); });
                with_threads(2, [&] { gemm(s.M, s.N, s.K, A.view, B.view, two.data(), s.N, accumulate); });
                INFO("M=", s.M, " N=", s.N, " K=", s.K, " A ", name(a), " accumulate=", accumulate);
                CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(Scalar)) == 0);
            }
}

TEST_CASE("gemm: row_bias gives the same bits as gemm followed by a bias loop, against the reference too") {
    // The bias goes in after the whole sum, on the last K block (several K blocks: K = 800), in full
    // tiles and in edge tiles (N = 67, M = 131), when accumulating, on 1 and 2 threads; and K = 0.
    struct Shape {
        int64_t M, N, K;
    };
    const Shape shapes[] = {{131, 67, 800}, {26, 64, 128}, {5, 2000, 300}, {7, 9, 0}, {1, 1, 1}};
    for (const Shape& s : shapes)
        for (bool accumulate : {false, true})
            for (int threads : {1, 2}) {
                Lcg rng{uint64_t(s.M + s.N + s.K)};
                Operand A(s.M, s.K, Layout::RowMajor, rng), B(s.K, s.N, Layout::Transposed, rng);
                std::vector<Scalar> bias(size_t(s.N));
                for (Scalar& x : bias) x = rng.next();
                std::vector<Scalar> C0(size_t(s.M * s.N));
                for (Scalar& x : C0) x = rng.next();
                std::vector<Scalar> fused = C0, two_pass = C0, reference = C0;
                with_threads(threads, [&] {
                    gemm(s.M, s.N, s.K, A.view, B.view, fused.data(), s.N, accumulate, bias.data());
                    gemm(s.M, s.N, s.K, A.view, B.view, two_pass.data(), s.N, accumulate);
                });
                for (int64_t i = 0; i < s.M; ++i)
                    for (int64_t j = 0; j < s.N; ++j) two_pass[size_t(i * s.N + j)] += bias[size_t(j)];
                gemm_reference(s.M, s.N, s.K, A.view, B.view, reference.data(), s.N, accumulate, bias.data());
                INFO("M=", s.M, " N=", s.N, " K=", s.K, " accumulate=", accumulate, " threads=", threads);
                CHECK(std::memcmp(fused.data(), two_pass.data(), fused.size() * sizeof(Scalar)) == 0);
                double worst = 0;
                for (size_t e = 0; e < fused.size(); ++e) worst = std::max(worst, double(std::fabs(fused[e] - reference[e])));
                CHECK(worst < 1e-3);  // sums of up to 800 products of numbers in [-1, 1): float rounding only
                if (s.K == 0) CHECK(fused[0] == (accumulate ? C0[0] : 0) + bias[0]);
            }
}

TEST_CASE("gemm_batched: bit-identical on 1 and 2 threads, and equal to one gemm per product") {
    struct Shape {
        int64_t M, N, K;
    };
    // attention's small products; and long sums into a small C, whose K is cut into groups
    for (const Shape& s : {Shape{65, 65, 32}, Shape{20, 30, 4100}}) {
        const int64_t batch = 6, M = s.M, N = s.N, K = s.K;
        Lcg rng{7};
        Operand A(batch * M, K, Layout::RowMajor, rng), B(batch * K, N, Layout::RowMajor, rng);
        std::vector<Scalar> one(size_t(batch * M * N)), two(one.size()), single(one.size());
        auto run = [&](std::vector<Scalar>& C) {
            gemm_batched(batch, M, N, K, A.view, M * K, B.view, K * N, C.data(), N, M * N, false);
        };
        with_threads(1, [&] { run(one); });
        with_threads(2, [&] { run(two); });
        for (int64_t i = 0; i < batch; ++i)
            gemm(M, N, K, {A.view.data + i * M * K, K, 1}, {B.view.data + i * K * N, N, 1},
                 single.data() + i * M * N, N, false);
        INFO("M=", M, " N=", N, " K=", K);
        CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(Scalar)) == 0);
        CHECK(std::memcmp(one.data(), single.data(), one.size() * sizeof(Scalar)) == 0);
    }
}

TEST_CASE("gemm: called from inside a parallel region, each thread runs its own product serially") {
    const int64_t M = 120, N = 90, K = 150, copies = 4;
    Lcg rng{99};
    Operand A(M, K, Layout::RowMajor, rng), B(K, N, Layout::Transposed, rng);
    std::vector<Scalar> expected(size_t(M * N)), got(size_t(copies * M * N));
    gemm(M, N, K, A.view, B.view, expected.data(), N, false);
    with_threads(2, [&] {
        // Each iteration owns its copy of C.
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < copies; ++c) gemm(M, N, K, A.view, B.view, got.data() + c * M * N, N, false);
    });
    for (int64_t c = 0; c < copies; ++c)
        CHECK(std::memcmp(got.data() + c * M * N, expected.data(), expected.size() * sizeof(Scalar)) == 0);
}
#endif

// ---- small_gemm (core/small_gemm.h): operands in L1, columns a whole number of vectors ------------------
// Its tiles are R rows x V vectors, R from {16, 13, 8, 5, 4, 2, 1} and V at most 5 (32 registers) or 3 (16),
// so the shapes below land every tile height, the remainders after each, and column chunks of every width.

namespace {

// small_gemm (M, vectors * W, K) with A in the given layout and B row-major with ldb = N + 5, against
// gemm_reference. C has ldc = N + 3: the padding columns must come out untouched.
void check_small_gemm(int64_t M, int64_t vectors, int64_t K, Layout a_layout, bool accumulate) {
    const int64_t N = vectors * kVectorLanes, ldb = N + 5, ldc = N + 3;
    Lcg rng{uint64_t(M * 7919 + vectors * 131 + K)};
    Operand A(M, K, a_layout, rng), B_wide(K, ldb, Layout::RowMajor, rng);
    const Operand& B = B_wide;  // B (K, N) is the first N columns of each row of B_wide
    std::vector<Scalar> C0(size_t(std::max<int64_t>(M, 1) * ldc));
    for (Scalar& x : C0) x = rng.next();
    std::vector<Scalar> fast = C0, reference = C0;
    small_gemm(M, vectors, K, A.view, B.view.data, ldb, fast.data(), ldc, accumulate);
    gemm_reference(M, N, K, A.view, B.view, reference.data(), ldc, accumulate);

    INFO("small_gemm M=", M, " vectors=", vectors, " K=", K, " A ", name(a_layout), " accumulate=", accumulate);
    CHECK(worst_violation(M, N, K, A, B, C0, accumulate, fast, reference, ldc) == 0);
    bool padding_untouched = true;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = N; j < ldc; ++j) padding_untouched &= fast[size_t(i * ldc + j)] == C0[size_t(i * ldc + j)];
    CHECK(padding_untouched);
}

}  // namespace

TEST_CASE("small_gemm: every tile height and its remainders, every chunk width, every layout of A") {
    const int64_t rows[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 21, 26, 33, 65};
    for (int64_t M : rows)
        for (int64_t vectors : {1, 2, 3, 4, 5, 6, 9, 11})
            for (bool accumulate : {false, true}) check_small_gemm(M, vectors, 32, Layout::RowMajor, accumulate);
    for (int64_t M : {16, 65})
        for (int64_t K : {0, 1, 7, 65})
            for (Layout a : kLayouts)
                for (bool accumulate : {false, true}) check_small_gemm(M, 2, K, a, accumulate);
}

TEST_CASE("small_gemm: attention's shapes give exactly the numbers of sums worked out in integers") {
    // A(i, k) = (i + 2k) mod 5 - 2 and B(k, j) = (3k + j) mod 7 - 3: small integers, so every partial sum
    // is exact and the kernel must match the plain loop bit for bit, whatever its tiles.
    struct Shape {
        int64_t M, vectors, K;
    };
    for (const Shape& shape : {Shape{65, 5, 32}, Shape{65, 2, 65}, Shape{16, 1, 32}, Shape{16, 2, 16}}) {
        const int64_t M = shape.M, vectors = shape.vectors, K = shape.K, N = vectors * kVectorLanes;
        std::vector<Scalar> A(size_t(M * K)), B(size_t(K * N)), C(size_t(M * N), Scalar(1));
        for (int64_t i = 0; i < M; ++i)
            for (int64_t k = 0; k < K; ++k) A[size_t(i * K + k)] = Scalar((i + 2 * k) % 5 - 2);
        for (int64_t k = 0; k < K; ++k)
            for (int64_t j = 0; j < N; ++j) B[size_t(k * N + j)] = Scalar((3 * k + j) % 7 - 3);
        small_gemm(M, vectors, K, {A.data(), K, 1}, B.data(), N, C.data(), N, true);
        int64_t wrong = 0;
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                int64_t sum = 1;  // the 1 C started with
                for (int64_t k = 0; k < K; ++k) sum += ((i + 2 * k) % 5 - 2) * ((3 * k + j) % 7 - 3);
                wrong += C[size_t(i * N + j)] != Scalar(sum);
            }
        INFO("M=", M, " vectors=", vectors, " K=", K);
        CHECK(wrong == 0);
    }
}

TEST_CASE("small_gemm: negative sizes throw") {
    Scalar x = 0;
    CHECK_THROWS_WITH_AS(small_gemm(-1, 1, 1, {&x, 1, 1}, &x, 1, &x, 1, false),
                         doctest::Contains("small_gemm: sizes must be non-negative, got M=-1"), std::invalid_argument);
}
