#include "examples/exercises/grading/grader.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

void not_implemented(const char* function_name) {
    throw NotImplemented(std::string(function_name) + " is not implemented yet");
}

Grader::Grader(const ExerciseInfo& info, uint64_t seed, std::ostream& out)
    : info_(info), seed_(seed), rng_(seed), out_(out) {}

// ---- drawing inputs ---------------------------------------------------------------------------------------

Tensor Grader::random(const Shape& shape, double low, double high) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) {
        double value = 0;
        while (std::abs(value) < 1e-3) value = rng_.uniform(low, high);  // off the kink at 0
        t.data()[i] = value;
    }
    return t;
}

Tensor Grader::random_away_from_zero(const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = (rng_.uniform() < 0.5 ? -1 : 1) * rng_.uniform(0.5, 1.5);
    return t;
}

int64_t Grader::random_int(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(rng_.uniform() * static_cast<double>(high - low + 1));
}

// ---- checks -----------------------------------------------------------------------------------------------

void Grader::begin_case(const std::string& description) {
    case_ = description;
    ++cases_started_;
}

void Grader::fail(const std::string& message) {
    failure_ = message;
    throw GradeFailed{};
}

void Grader::expect_true(bool ok, const std::string& what_went_wrong) {
    if (!ok) fail(what_went_wrong);
}

void Grader::expect_shape(const std::string& what, const Tensor& got, const Shape& expected) {
    if (!got.defined()) fail(what + " is an undefined tensor (did the function return Tensor()?), expected shape " +
                             to_string(expected));
    if (got.shape() != expected)
        fail(what + " has shape " + to_string(got.shape()) + ", expected " + to_string(expected));
}

// "[1, 3]" for flat index 8 of a (2, 5) tensor.
static std::string multi_index(int64_t flat, const Shape& shape) {
    std::vector<int64_t> index(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    std::string text = "[";
    for (size_t d = 0; d < index.size(); ++d) text += (d ? ", " : "") + std::to_string(index[d]);
    return text + "]";
}

static std::string number(double value) {
    std::ostringstream os;
    os << std::setprecision(10) << value;
    return os.str();
}

void Grader::expect_close(const std::string& what, const Tensor& got, const Tensor& expected,
                          const Tolerance& tolerance, const std::string& source) {
    expect_shape(what, got, expected.shape());
    int64_t wrong = 0, first = -1, worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
        const double g = got.data()[i], e = expected.data()[i];
        const double allowed = tolerance.atol + tolerance.rtol * std::abs(e);
        const double diff = std::abs(g - e);
        if (!(diff <= allowed)) {  // NaN counts as wrong
            ++wrong;
            if (first < 0) first = i;
            const double excess = std::isnan(diff) ? INFINITY : diff / std::max(allowed, 1e-300);
            if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
        }
    }
    if (wrong == 0) return;
    auto describe = [&](int64_t i) {
        const double g = got.data()[i], e = expected.data()[i];
        const std::string relative = e == 0 ? "" : ", relative " + number(std::abs(g - e) / std::abs(e));
        return what + multi_index(i, got.shape()) + ": got " + number(g) + ", expected " + number(e) +
               " (|difference| " + number(std::abs(g - e)) + relative + ")";
    };
    std::string message = what + ": " + std::to_string(wrong) + " of " + std::to_string(got.numel()) +
                          " elements are wrong (expected: " + source + ")\n";
    message += "    worst  " + describe(worst) + "\n";
    if (first != worst) message += "    first  " + describe(first) + "\n";
    message += "    allowed |got - expected| <= " + number(tolerance.atol) + " + " + number(tolerance.rtol) +
               " |expected|  (" + tolerance.why + ")";
    fail(message);
}

void Grader::expect_gradients_flow(const std::string& what, const TensorFunction& learner_fn,
                                   const std::vector<Tensor>& inputs, const std::vector<std::string>& names) {
    std::vector<Tensor> leaves;  // copies that require grad, so the grader's own tensors stay plain values
    for (const Tensor& input : inputs) {
        Tensor leaf = input.clone();
        leaf.requires_grad_();
        leaves.push_back(leaf);
    }
    const Tensor out = call([&] { return learner_fn(leaves); });
    if (!out.requires_grad())
        fail(what + " records no gradient: autograd cannot run your function backwards. Build the result from "
                    "ops (reshape, permute, matmul, +), not by writing numbers into a new tensor's data()");
    GradcheckOptions options;
    options.atol = kCentralDifferences.atol;
    options.rtol = kCentralDifferences.rtol;
    options.seed = static_cast<uint64_t>(random_int(0, 1 << 30));  // the probe: random normal, never all ones
    const GradcheckReport report = call([&] { return gradcheck(learner_fn, leaves, options); });
    if (report.passed) return;
    std::string message = "the gradients autograd finds through your " + what +
                          " disagree with central differences (core/gradcheck.h; |analytic - numeric| <= " +
                          number(options.atol) + " + " + number(options.rtol) + " |numeric|, " +
                          kCentralDifferences.why + ")";
    for (const GradcheckInput& input : report.inputs)
        if (!input.passed) message += "\n    d/d" + names.at(static_cast<size_t>(input.index)) + ": " + input.failure;
    fail(message + "\n    Did a value leave the graph (detach(), or numbers copied through data())?");
}

// ---- numeric gradients ------------------------------------------------------------------------------------

Tensor numeric_gradient(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& probe,
                        double eps) {
    NoGradGuard no_grad;
    Tensor input = x.clone();
    auto loss = [&] {
        const Tensor out = f(input);
        check(out.shape() == probe.shape(), "numeric_gradient: f gives shape ", out.shape(), " but the probe has ",
              probe.shape());
        // std::fma: each term added with one rounding, whatever the compiler. Left as `total += a * b`, one
        // compiler fuses the multiply and the add and another does not, the last bit of the loss differs,
        // and the difference quotient below magnifies it a million times (docs/building.md).
        double total = 0;
        for (int64_t i = 0; i < out.numel(); ++i)
            total = std::fma(static_cast<double>(out.data()[i]), probe.data()[i], total);
        return total;
    };
    Tensor gradient = Tensor::empty(x.shape());
    for (int64_t j = 0; j < input.numel(); ++j) {
        const Scalar saved = input.data()[j];
        input.data()[j] = saved + eps;
        const double plus = loss();
        input.data()[j] = saved - eps;
        const double minus = loss();
        input.data()[j] = saved;
        gradient.data()[j] = static_cast<Scalar>((plus - minus) / (2 * eps));
    }
    return gradient;
}

// ---- the run ----------------------------------------------------------------------------------------------

GradeReport Grader::run(const std::function<void(Grader&)>& cases) {
    GradeReport report;
    const std::string rerun = "make exercise NAME=" + std::string(info_.name) + " SEED=" + std::to_string(seed_);
    try {
        cases(*this);
        report.cases_passed = cases_started_;
        out_ << "PASS  " << info_.name << ": " << info_.title << ", " << cases_started_
             << " cases passed (seed " << seed_ << ")\n"
             << "      You have shown that " << info_.proves << ".\n";
    } catch (const NotImplemented& error) {
        report.status = GradeStatus::NotStarted;
        report.failure = error.what();
        out_ << "TODO  " << info_.name << ": " << error.what() << ".\n"
             << "      Open examples/exercises/" << info_.name << ".cpp, replace the not_implemented(...) line by "
             << "your code, and run `make exercise NAME=" << info_.name << "` again.\n"
             << "      The rule: " << info_.rule << "   (" << info_.chapter << ")\n";
    } catch (const GradeFailed&) {
        report.status = GradeStatus::Failed;
        report.cases_passed = cases_started_ - 1;
        report.failure = failure_;
        const int passed = cases_started_ - 1;
        out_ << "FAIL  " << info_.name << ", case " << cases_started_ << " (" << case_ << "), the smallest that fails; "
             << passed << (passed == 1 ? " smaller case" : " smaller cases") << " passed\n"
             << "    " << failure_ << "\n"
             << "    hint: " << info_.rule << "   (" << info_.chapter << ")\n"
             << "    rerun these inputs: " << rerun << "\n";
    }
    return report;
}

int run_exercise(int argc, char** argv, const ExerciseInfo& info, const std::function<void(Grader&)>& cases) {
    uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000;
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quiet") {
            quiet = true;
        } else if (arg == "--about") {
            std::cout << info.number << " " << info.name << ": " << info.title << " (" << info.chapter << ")\n";
            return 0;
        } else if (arg == "--seed" && i + 1 < argc && std::strspn(argv[i + 1], "0123456789") == std::strlen(argv[i + 1]) &&
                   std::strlen(argv[i + 1]) > 0 && std::strlen(argv[i + 1]) <= 18) {
            seed = std::stoull(argv[++i]);
        } else {
            std::cerr << info.name << ": unknown argument '" << arg << "'; usage: " << argv[0]
                      << " [--seed N (decimal, up to 18 digits)] [--quiet]\n";
            return 2;
        }
    }
    std::ostringstream silent;
    Grader grader(info, seed, quiet ? static_cast<std::ostream&>(silent) : std::cout);
    const GradeReport report = grader.run(cases);
    switch (report.status) {
        case GradeStatus::Passed: return 0;
        case GradeStatus::NotStarted: return 3;
        case GradeStatus::Failed: return 1;
    }
    return 1;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
