// IoU, GIoU, DIoU and CIoU losses of aligned box pairs on CPU: the loss of
// each pair and its derivatives with respect to both boxes, in one pass.
//
// This is the CPU form of the torch pass of ../iou_family.py
// (`bounds_geometry` and `loss_terms` of ../iou_geometry.py,
// `_loss_and_jacobian`), called by `iou_family_pass` of ../native.py: the same
// definitions (bounds form, eps floors, clamps, tie rule, arctan of a
// zero-size box) written per pair, so that a pair costs a few dozen
// arithmetic instructions instead of ~60 torch calls over temporaries.
// tests/functional/test_iou_family_native.py checks the two against each
// other; the module docstring of iou_family.py states the conventions.
//
// Built by ../native.py with -O3 -fno-math-errno -fno-trapping-math, flags
// that keep IEEE results (no fast-math) and let the compiler vectorise the
// loops. The pairs go in blocks; calls into the C library (log, and arctan
// in float64), which do not vectorise, run in short loops of their own,
// so that the main loop has no call and no branch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace {

enum Kind { IOU_LOG = 0, IOU_LINEAR, IOU_SQUARE, GIOU, DIOU, CIOU };

constexpr int64_t kBlock = 256;
constexpr double kVScale = 0.40528473456935108578;  // 4 / pi^2

// clamp(x, min=lo) as torch computes it: NaN stays NaN
template <typename T> inline T floor_at(T x, T lo) { return x < lo ? lo : x; }

template <typename T> inline T sign_of(T d) {
  return d > 0 ? T(1) : (d < 0 ? T(-1) : T(0));
}

// arctan(w / h), 0 where w = h = 0 (torch: atan(w / h).nan_to_num_(0))
inline double atan_ratio(double w, double h) {
  const double r = std::atan(w / h);
  return r != r ? 0.0 : r;
}

// The same in float without a call, so that its loop vectorises (the
// C library's atanf does not): Cephes' atanf (S. L. Moshier), reduced to
// |x| <= tan(pi/8) by atan(a) = pi/4 + atan((a - 1) / (a + 1)) on
// a = min(|w|, |h|) / max(|w|, |h|) in [0, 1], then a degree-9 odd
// polynomial; measured against float64 atan: see
// tests/functional/test_iou_family_native.py.
inline float atan_ratio(float w, float h) {
  const float aw = std::fabs(w), ah = std::fabs(h);
  const float a = std::min(aw, ah) / std::max(aw, ah);  // NaN if w = h = 0
  const bool upper = a > 0.41421356237309503f;           // tan(pi/8)
  const float x = upper ? (a - 1.0f) / (a + 1.0f) : a;
  const float z = x * x;
  float r = (((8.05374449538e-2f * z - 1.38776856032e-1f) * z +
              1.99777106478e-1f) * z - 3.33329491539e-1f) * z * x + x;
  r = upper ? r + 0.78539816339744831f : r;
  r = aw > ah ? 1.5707963267948966f - r : r;
  r = std::signbit(w) != std::signbit(h) ? -r : r;
  return r != r ? 0.0f : r;
}

// K: the loss; kAlphaGiven: CIoU's alpha comes in (gradcheck holds it
// fixed) instead of being computed
template <typename T, int K, bool kAlphaGiven = false>
double run(const T *__restrict pred, const T *__restrict target,
           const T *__restrict weight, const T *__restrict alpha_in,
           T eps, T alpha_threshold, bool gated, double scale,
           T *__restrict loss_out, T *__restrict grad_p,
           T *__restrict grad_t, int64_t n) {
  const T tiny = std::numeric_limits<T>::min();
  double total = 0;
  // per block: the loss, the factor of the derivatives, CIoU's arctans
  // and alpha; derivatives nobody asked for go to scratch. The main loop
  // then reads and writes the same arrays whatever was asked, without a
  // branch, which is what lets the compiler vectorise it.
  T loss[kBlock], factor[kBlock], atan_p[kBlock], atan_t[kBlock];
  T alpha_given[kBlock];
  T scratch_p[4 * kBlock], scratch_t[4 * kBlock];
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t m = std::min(kBlock, n - start);
    const T *p = pred + 4 * start, *t = target + 4 * start;
    T *gp = grad_p ? grad_p + 4 * start : scratch_p;
    T *gt = grad_t ? grad_t + 4 * start : scratch_t;
    for (int64_t j = 0; j < m; ++j) {
      factor[j] = weight ? T(weight[start + j] * scale) : T(scale);
    }
    if (K == CIOU) {
      for (int64_t j = 0; j < m; ++j) {
        const T *a = p + 4 * j, *b = t + 4 * j;
        atan_p[j] = atan_ratio(a[2] - a[0], a[3] - a[1]);
        atan_t[j] = atan_ratio(b[2] - b[0], b[3] - b[1]);
      }
      if (kAlphaGiven) {
        std::copy(alpha_in + start, alpha_in + start + m, alpha_given);
      }
    }
    for (int64_t j = 0; j < m; ++j) {
      // bounds form (-x1, -y1, x2, y2)
      const T b1[4] = {-p[4 * j], -p[4 * j + 1], p[4 * j + 2], p[4 * j + 3]};
      const T b2[4] = {-t[4 * j], -t[4 * j + 1], t[4 * j + 2], t[4 * j + 3]};
      const T w1 = b1[0] + b1[2], h1 = b1[1] + b1[3];
      const T w2 = b2[0] + b2[2], h2 = b2[1] + b2[3];
      const T iw_raw = std::min(b1[0], b2[0]) + std::min(b1[2], b2[2]);
      const T ih_raw = std::min(b1[1], b2[1]) + std::min(b1[3], b2[3]);
      const T iw = floor_at(iw_raw, T(0)), ih = floor_at(ih_raw, T(0));
      const T inter = iw * ih;
      const T union_ = floor_at(w1 * h1 + w2 * h2 - inter, eps);
      const T inv_union = T(1) / union_;
      T iou = inter / union_;
      // dL/dIoU (-1 for the GIoU/DIoU/CIoU), dL/dU beyond the IoU's,
      // dL/d(enclosing w, h), dL/d(twice the centre offset), dL/d(own w, h)
      T d_iou = T(-1), d_union = 0, e_x = 0, e_y = 0, c_x = 0, c_y = 0;
      T wp_x = 0, wp_y = 0, wt_x = 0, wt_y = 0;
      T l;
      if (K <= IOU_SQUARE) {
        // mmdet floors the IoU at eps in every mode; no derivative there
        const T c = floor_at(iou, eps);
        const bool live = iou >= eps;
        if (K == IOU_LOG) {
          l = c;  // -log(c) is taken in the block's log loop
          d_iou = live ? T(-1) / c : T(0);
        } else if (K == IOU_LINEAR) {
          l = T(1) - c;
          d_iou = live ? T(-1) : T(0);
        } else {
          l = T(1) - c * c;
          d_iou = live ? T(-2) * c : T(0);
        }
        iou = c;
      } else {
        // the enclosing box: the larger bound of each side
        const T cw = floor_at(
            std::max(b1[0], b2[0]) + std::max(b1[2], b2[2]), T(0));
        const T ch = floor_at(
            std::max(b1[1], b2[1]) + std::max(b1[3], b2[3]), T(0));
        if (K == GIOU) {
          // 1 - IoU + (C - U) / C = 2 - IoU - U / C
          const T area = cw * ch;
          d_union = T(-1) / floor_at(area, eps);
          l = union_ * d_union + T(2) - iou;
          const T d_c = area >= eps ? d_union * d_union * union_ : T(0);
          e_x = ch * d_c;
          e_y = cw * d_c;
        } else {
          // 1 - IoU + rho^2 / c^2, rho^2 = |offset|^2 / 4
          const T inv_diag2 = T(1) / (cw * cw + ch * ch + eps);
          const T ox = (b1[2] - b2[2]) - (b1[0] - b2[0]);
          const T oy = (b1[3] - b2[3]) - (b1[1] - b2[1]);
          const T dist = (ox * ox + oy * oy) * inv_diag2 * T(0.25);
          l = T(1) - iou + dist;
          const T k = dist * inv_diag2 * T(-2);
          e_x = cw * k;
          e_y = ch * k;
          c_x = ox * inv_diag2 * T(0.5);
          c_y = oy * inv_diag2 * T(0.5);
          if (K == CIOU) {
            // + alpha v, v = 4/pi^2 delta^2, alpha without gradient
            const T delta = atan_t[j] - atan_p[j];
            const T v = delta * delta * T(kVScale);
            T alpha = v / floor_at(T(1) - iou + v, tiny);
            alpha = gated && !(iou > alpha_threshold) ? T(0) : alpha;
            alpha = kAlphaGiven ? alpha_given[j] : alpha;
            l += alpha * v;
            // d arctan(w/h) / d(w, h) = (h, -w) / (w^2 + h^2)
            const T s = delta * alpha * T(2 * kVScale);
            const T fp = -s / floor_at(w1 * w1 + h1 * h1, tiny);
            const T ft = s / floor_at(w2 * w2 + h2 * h2, tiny);
            wp_x = h1 * fp;
            wp_y = -w1 * fp;
            wt_x = h2 * ft;
            wt_y = -w2 * ft;
          }
        }
      }
      loss[j] = l;
      // IoU = I / U, U = A_p + A_t - I; the floor of U passes nothing
      T g_union = -d_iou * iou * inv_union + d_union;
      g_union = union_ > eps ? g_union : T(0);
      const T g_inter = d_iou * inv_union - g_union;
      // the clamp of the intersection passes the derivative at 0 itself
      const T a_x = iw_raw >= 0 ? ih * g_inter : T(0);
      const T a_y = ih_raw >= 0 ? iw * g_inter : T(0);
      wp_x += h1 * g_union;
      wp_y += w1 * g_union;
      wt_x += h2 * g_union;
      wt_y += w2 * g_union;
      const T sc = factor[j];
      // side k of each box: min passes the derivative to the smaller
      // bound, max to the larger, half and half on a tie; the lower
      // bounds are -x1, -y1 (hence the sign on the way back to 'xyxy')
      const T a[2] = {a_x, a_y}, e[2] = {e_x, e_y}, cc[2] = {c_x, c_y};
      const T wp[2] = {wp_x, wp_y}, wt[2] = {wt_x, wt_y};
      for (int k = 0; k < 4; ++k) {
        const int ax = k & 1;
        const T r = k < 2 ? T(-1) : T(1);
        const T s = sign_of(b1[k] - b2[k]);
        const T half_sum = (a[ax] + e[ax]) * T(0.5);
        const T half_diff = (e[ax] - a[ax]) * T(0.5);
        const T jp = half_sum + wp[ax] + s * half_diff + r * cc[ax];
        const T jt = half_sum + wt[ax] - s * half_diff - r * cc[ax];
        gp[4 * j + k] = r * jp * sc;
        gt[4 * j + k] = r * jt * sc;
      }
    }
    if (K == IOU_LOG) {
      for (int64_t j = 0; j < m; ++j) loss[j] = -std::log(loss[j]);
    }
    if (loss_out) {
      std::copy(loss, loss + m, loss_out + start);
    }
    if (weight) {
      const T *w = weight + start;
      double block_sum = 0;
#pragma omp simd reduction(+ : block_sum)
      for (int64_t j = 0; j < m; ++j) block_sum += double(w[j]) * loss[j];
      total += block_sum;
    }
  }
  return total * scale;
}

template <typename T>
double dispatch(int kind, const T *pred, const T *target, const T *weight,
                const T *alpha, T eps, T alpha_threshold, int gated,
                double scale, T *loss_out, T *grad_p, T *grad_t, int64_t n) {
#define MMDET_LOSSES_CASE(K)                                                  \
  case K:                                                                     \
    return run<T, K>(pred, target, weight, alpha, eps, alpha_threshold,      \
                     gated != 0, scale, loss_out, grad_p, grad_t, n);
  switch (kind) {
    MMDET_LOSSES_CASE(IOU_LOG)
    MMDET_LOSSES_CASE(IOU_LINEAR)
    MMDET_LOSSES_CASE(IOU_SQUARE)
    MMDET_LOSSES_CASE(GIOU)
    MMDET_LOSSES_CASE(DIOU)
  case CIOU:
    return alpha ? run<T, CIOU, true>(pred, target, weight, alpha, eps,
                                      alpha_threshold, gated != 0, scale,
                                      loss_out, grad_p, grad_t, n)
                 : run<T, CIOU>(pred, target, weight, alpha, eps,
                                alpha_threshold, gated != 0, scale, loss_out,
                                grad_p, grad_t, n);
  }
#undef MMDET_LOSSES_CASE
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

// pred, target: (n, 4) 'xyxy', contiguous. weight: (n,) or null; with it
// the return value is scale * sum(weight * loss) and the derivatives are
// those of that value; without it the return value is 0 and the
// derivatives are those of each pair's loss, times scale. alpha: (n,) CIoU
// alpha or null (computed, gated at alpha_threshold when gated).
// loss_out: (n,) or null. grad_p, grad_t: (n, 4) or null.
extern "C" double mmdet_losses_iou_family_f32(
    int kind, const float *pred, const float *target, const float *weight,
    const float *alpha, float eps, float alpha_threshold, int gated,
    double scale, float *loss_out, float *grad_p, float *grad_t, int64_t n) {
  return dispatch<float>(kind, pred, target, weight, alpha, eps,
                         alpha_threshold, gated, scale, loss_out, grad_p,
                         grad_t, n);
}

extern "C" double mmdet_losses_iou_family_f64(
    int kind, const double *pred, const double *target, const double *weight,
    const double *alpha, double eps, double alpha_threshold, int gated,
    double scale, double *loss_out, double *grad_p, double *grad_t,
    int64_t n) {
  return dispatch<double>(kind, pred, target, weight, alpha, eps,
                          alpha_threshold, gated, scale, loss_out, grad_p,
                          grad_t, n);
}
