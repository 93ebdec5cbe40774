// Film halation with polykern: light that passes the emulsion, bounces off the film base
// and re-exposes the red (and a little of the green) layer around bright highlights.
//
//   halation <in.png|jpg> <out.png|jpg> [--policy scalar|simd|openmp|vulkan|all]
//            [--strength S] [--threshold T]
//   halation --generate <out.png> [width height]   a synthetic night scene to try it on
//   halation --check <dir>                          end-to-end self-test (ctest)
//
// The glow is the film app's kernel, 0.5 G(61, 8) + 0.3 G(121, 16) + 0.2 G(151, 32), applied
// to the highlights of each channel in ONE pass (polykern::separable_correlate with three
// weighted terms: no intermediate images). With --policy all it runs on every policy and
// prints the time of each; the output comes from the last one.
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <polykern/convolve.hpp>
#include <polykern/image.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace pk = polykern;

namespace {

struct options {
  float strength = 1.0f;   // glow added, in linear light, per unit of highlight
  float threshold = 0.7f;  // linear level above which light blooms
};
// The glow's colour: the red layer sits deepest and is re-exposed most.
constexpr std::array<float, 3> tint = {1.0f, 0.32f, 0.08f};

float to_linear(std::uint8_t v) { return std::pow(v / 255.0f, 2.2f); }
std::uint8_t to_srgb(float v) {
  v = std::clamp(v, 0.0f, 1.0f);
  return static_cast<std::uint8_t>(std::lround(std::pow(v, 1 / 2.2f) * 255.0f));
}

struct rgb_image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // RGB, tight rows
};

rgb_image load(const std::string& path) {
  int w = 0, h = 0, n = 0;
  std::uint8_t* data = stbi_load(path.c_str(), &w, &h, &n, 3);
  if (!data) throw std::runtime_error("cannot read " + path + ": " + stbi_failure_reason());
  rgb_image img{w, h, std::vector<std::uint8_t>(data, data + std::size_t(w) * h * 3)};
  stbi_image_free(data);
  return img;
}

void save(const std::string& path, const rgb_image& img) {
  const auto ext = std::filesystem::path(path).extension().string();
  const bool jpg = ext == ".jpg" || ext == ".jpeg" || ext == ".JPG";
  const int ok = jpg ? stbi_write_jpg(path.c_str(), img.width, img.height, 3, img.pixels.data(), 88)
                     : stbi_write_png(path.c_str(), img.width, img.height, 3, img.pixels.data(), img.width * 3);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

// The glow kernel's three terms (taps as gaussian_blur uses them).
struct halation_kernel {
  std::vector<float> g61 = pk::gaussian_kernel(61, 8), g121 = pk::gaussian_kernel(121, 16),
                     g151 = pk::gaussian_kernel(151, 32);
  std::vector<pk::separable_term> terms() const {
    return {{g61, g61, 0.5}, {g121, g121, 0.3}, {g151, g151, 0.2}};
  }
};

// Linear light and its highlights (the part above the threshold), both 3-channel float.
struct prepared {
  pk::image<float> linear, highlights;
};
prepared prepare(const rgb_image& in, const options& opt) {
  prepared p{pk::image<float>(in.width, in.height, 3), pk::image<float>(in.width, in.height, 3)};
  for (int y = 0; y < in.height; ++y)
    for (int e = 0; e < in.width * 3; ++e) {
      const float v = to_linear(in.pixels[std::size_t(y) * in.width * 3 + e]);
      p.linear.view().row(y)[e] = v;
      p.highlights.view().row(y)[e] = std::max(0.0f, v - opt.threshold);
    }
  return p;
}

rgb_image finish(const prepared& p, const pk::image<float>& glow, const options& opt) {
  rgb_image out{int(p.linear.width()), int(p.linear.height()), {}};
  out.pixels.resize(std::size_t(out.width) * out.height * 3);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = p.linear(x, y, c) + opt.strength * tint[c] * glow(x, y, c);
        out.pixels[(std::size_t(y) * out.width + x) * 3 + c] = to_srgb(v);
      }
  return out;
}

// The convolution, on one policy: every channel with the same three-Gaussian kernel.
template <class P>
void glow_of(const P& policy, const prepared& p, pk::image<float>& glow) {
  static const halation_kernel k;
  const auto terms = k.terms();
  pk::separable_correlate(policy, p.highlights.view(), std::span<const pk::separable_term>(terms), glow.view(),
                          {pk::border::reflect});
}

template <class F>
void for_policy(const std::string& name, F&& f) {
  bool any = false;
  const auto maybe = [&](std::string_view n, const auto& policy) {
    if (name == "all" || name == n) {
      any = true;
      f(n, policy);
    }
  };
  maybe("scalar", pk::exec::scalar);
  maybe("simd", pk::exec::simd);
#if POLYKERN_HAS_OPENMP
  maybe("openmp", pk::exec::openmp);
#endif
#if POLYKERN_HAS_VULKAN
  if ((name == "all" || name == "vulkan") && !pk::exec::vulkan.available()) {
    std::printf("vulkan: no device, skipped\n");
  } else {
    maybe("vulkan", pk::exec::vulkan);
  }
#endif
  if (!any && name != "vulkan") throw std::runtime_error("unknown policy '" + name + "' (scalar, simd, openmp, vulkan, all)");
}

rgb_image process(const rgb_image& in, const std::string& policy_name, const options& opt, bool report) {
  const prepared p = prepare(in, opt);
  pk::image<float> glow(in.width, in.height, 3);
  for_policy(policy_name, [&](std::string_view name, const auto& policy) {
    const auto t0 = std::chrono::steady_clock::now();
    glow_of(policy, p, glow);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (report) std::printf("%-7s %dx%d RGB halation: %8.1f ms\n", std::string(name).c_str(), in.width, in.height, ms);
  });
  return finish(p, glow, opt);
}

// A night street (synthetic, generated here; no licence attached): sky, buildings with lit
// windows, street lamps, a neon sign, the moon, and a little film grain.
rgb_image generate(int w, int h, unsigned seed = 7) {
  rgb_image img{w, h, std::vector<std::uint8_t>(std::size_t(w) * h * 3)};
  std::vector<float> lin(std::size_t(w) * h * 3);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  const auto put = [&](int x, int y, float r, float g, float b) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    float* p = &lin[(std::size_t(y) * w + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  };
  const auto disc = [&](float cx, float cy, float rad, float r, float g, float b) {
    for (int y = int(cy - rad - 2); y <= int(cy + rad + 2); ++y)
      for (int x = int(cx - rad - 2); x <= int(cx + rad + 2); ++x) {
        const float d = std::hypot(x - cx, y - cy);
        if (d <= rad) put(x, y, r, g, b);
      }
  };
  for (int y = 0; y < h; ++y)  // sky: deep blue to a warm city glow at the horizon
    for (int x = 0; x < w; ++x) {
      const float t = float(y) / h;
      put(x, y, 0.004f + 0.05f * t * t, 0.006f + 0.03f * t * t, 0.02f + 0.02f * t);
    }
  disc(w * 0.82f, h * 0.16f, h * 0.045f, 0.95f, 0.93f, 0.85f);  // the moon
  const int ground = int(h * 0.78);
  for (int x0 = 0; x0 < w;) {  // buildings with windows
    const int bw = int(w * (0.07f + 0.08f * u(rng))), top = int(h * (0.25f + 0.35f * u(rng)));
    const float shade = 0.01f + 0.015f * u(rng);
    for (int y = top; y < ground; ++y)
      for (int x = x0; x < std::min(w, x0 + bw - 2); ++x) put(x, y, shade, shade * 0.9f, shade * 1.1f);
    for (int y = top + 6; y + 8 < ground; y += 14)
      for (int x = x0 + 4; x + 7 < x0 + bw - 2; x += 11) {
        if (u(rng) > 0.45f) continue;
        const float lit = 0.55f + 0.45f * u(rng);
        for (int yy = y; yy < y + 7; ++yy)
          for (int xx = x; xx < x + 5; ++xx) put(xx, yy, lit, lit * 0.78f, lit * 0.45f);
      }
    x0 += bw;
  }
  for (int y = ground; y < h; ++y)  // wet street
    for (int x = 0; x < w; ++x) put(x, y, 0.012f, 0.012f, 0.016f);
  for (int i = 0; i < 6; ++i) {  // street lamps and their reflections
    const float x = w * (0.08f + 0.17f * i), y = h * 0.6f;
    for (int yy = int(y); yy < ground; ++yy) put(int(x), yy, 0.02f, 0.02f, 0.02f);
    disc(x, y, 3.5f, 1.0f, 0.97f, 0.88f);
    for (int yy = ground + 4; yy < h; yy += 3) disc(x + 3 * u(rng) - 1.5f, float(yy), 1.2f, 0.5f, 0.45f, 0.38f);
  }
  const float nx = w * 0.35f, ny = h * 0.47f;  // a neon sign
  for (int k = 0; k < 60; ++k) {
    disc(nx + k * 1.6f, ny + 8 * std::sin(k * 0.3f), 1.4f, 1.0f, 0.12f, 0.35f);
    disc(nx + k * 1.6f, ny + 18, 1.2f, 0.2f, 0.95f, 1.0f);
  }
  std::normal_distribution<float> grain(0.0f, 0.006f);
  for (std::size_t i = 0; i < lin.size(); ++i) img.pixels[i] = to_srgb(lin[i] + grain(rng));
  return img;
}

// ctest: the example end to end (files in, files out) on every policy, against the library
// call computed here. Exits non-zero on any difference above one uint8 step.
int check(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto input = (dir / "scene.png").string();
  save(input, generate(240, 160, 11));
  const rgb_image loaded = load(input);
  const options opt;
  const prepared p = prepare(loaded, opt);
  pk::image<float> glow(loaded.width, loaded.height, 3);
  glow_of(pk::exec::scalar, p, glow);
  const rgb_image want = finish(p, glow, opt);
  double glow_energy = 0, highlight_energy = 0;
  for (int y = 0; y < loaded.height; ++y)
    for (int e = 0; e < loaded.width * 3; ++e)
      glow_energy += glow.view().row(y)[e], highlight_energy += p.highlights.view().row(y)[e];
  int failures = 0;
  if (std::abs(glow_energy / highlight_energy - 1.0) > 1e-3) {
    std::printf("FAIL: the glow does not conserve energy (%.6f)\n", glow_energy / highlight_energy);
    ++failures;
  }
  std::string names[] = {"scalar", "simd", "openmp", "vulkan"};
  for (const auto& name : names) {
#if !POLYKERN_HAS_OPENMP
    if (name == "openmp") continue;
#endif
#if !POLYKERN_HAS_VULKAN
    if (name == "vulkan") continue;
#endif
    const auto output = (dir / ("out_" + name + ".png")).string();
    save(output, process(load(input), name, opt, true));
    const rgb_image got = load(output);
    int worst = 0;
    for (std::size_t i = 0; i < got.pixels.size(); ++i) worst = std::max(worst, std::abs(int(got.pixels[i]) - want.pixels[i]));
    std::printf("%-7s max difference to the library call: %d\n", name.c_str(), worst);
    if (worst > 1) ++failures;
  }
  std::printf(failures ? "FAILED\n" : "ok\n");
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() >= 2 && args[0] == "--check") return check(args[1]);
    if (args.size() >= 2 && args[0] == "--generate") {
      const int w = args.size() >= 4 ? std::atoi(args[2].c_str()) : 900, h = args.size() >= 4 ? std::atoi(args[3].c_str()) : 600;
      save(args[1], generate(w, h));
      return 0;
    }
    if (args.size() < 2) {
      std::fprintf(stderr,
                   "usage: halation <in> <out> [--policy scalar|simd|openmp|vulkan|all] [--strength S] [--threshold T]\n"
                   "       halation --generate <out.png> [width height]\n       halation --check <dir>\n");
      return 2;
    }
    options opt;
    std::string policy = "openmp";
    for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
      if (args[i] == "--policy") policy = args[i + 1];
      else if (args[i] == "--strength") opt.strength = std::stof(args[i + 1]);
      else if (args[i] == "--threshold") opt.threshold = std::stof(args[i + 1]);
      else throw std::runtime_error("unknown option " + args[i]);
    }
    const rgb_image in = load(args[0]);
    save(args[1], process(in, policy, opt, true));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "halation: %s\n", e.what());
    return 1;
  }
}
