// dlib_ref: parity reference for 128-d dlib face descriptors.
//
// Reads N aligned face chips from stdin (each 150*150*3 uint8 bytes,
// row-major HWC, channel order R,G,B), runs dlib's ResNet metric network
// (dlib_face_recognition_resnet_model_v1.dat) on all of them, and writes
// N*128 float32 (little-endian) descriptors to stdout.
//
// Usage: dlib_ref MODEL.dat < chips.raw > descriptors.raw
//
// Chip mode, the reference for the firmware's dlib chip geometry and sampling:
//   dlib_ref --chip SIZE PADDING < records.raw > chips.raw
// Each record is: int32 width, int32 height (little-endian), 10 float64 (five x, y points,
// rounded to integers as dlib's full_object_detection holds them, in dlib's 5-point order:
// left eye outer, left eye inner, right eye outer, right eye inner, nose base), then
// width*height*3 uint8 RGB pixels. For each record it writes the SIZE*SIZE*3 RGB chip
// that get_face_chip_details(det, SIZE, PADDING) and extract_image_chip give (bilinear, with
// dlib's image pyramid for large faces).
//
// Build (Debian 12, libdlib-dev 19.24; see build.sh):
//   g++ -O2 -std=c++14 dlib_ref.cpp -o dlib_ref -ldlib -lpthread -l:libblas.so.3 -l:liblapack.so.3
// (libdlib.so brings its own PNG and JPEG dependencies; the chip mode's similarity fit calls
// BLAS/LAPACK from dlib's headers, named by file because their -dev packages are not installed.)

#include <dlib/dnn.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

using namespace dlib;

// The network type must mirror the layer structure serialised in the model file
// (29 convolutions in 5 stages; see ../../../models/toolkit/dlib_reader.py).
template <template <int, template <typename> class, int, typename> class conv_pair,
          int N, template <typename> class BN, typename SUBNET>
using shortcut = add_prev1<conv_pair<N, BN, 1, tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class conv_pair,
          int N, template <typename> class BN, typename SUBNET>
using shortcut_down =
    add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<conv_pair<N, BN, 2, tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using conv_pair = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET> using unit = relu<shortcut<conv_pair, N, affine, SUBNET>>;
template <int N, typename SUBNET> using unit_down = relu<shortcut_down<conv_pair, N, affine, SUBNET>>;

template <typename SUBNET> using stage0 = unit_down<256, SUBNET>;
template <typename SUBNET> using stage1 = unit<256, unit<256, unit_down<256, SUBNET>>>;
template <typename SUBNET> using stage2 = unit<128, unit<128, unit_down<128, SUBNET>>>;
template <typename SUBNET> using stage3 = unit<64, unit<64, unit<64, unit_down<64, SUBNET>>>>;
template <typename SUBNET> using stage4 = unit<32, unit<32, unit<32, SUBNET>>>;

using descriptor_net = loss_metric<fc_no_bias<128, avg_pool_everything<
    stage0<stage1<stage2<stage3<stage4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2,
    input_rgb_image_sized<150>>>>>>>>>>>>>;

static const long kSize = 150;

static int chip_mode(unsigned long size, double padding) {
    std::vector<unsigned char> buf((std::istreambuf_iterator<char>(std::cin)),
                                   std::istreambuf_iterator<char>());
    size_t pos = 0;
    while (pos < buf.size()) {
        int32_t dims[2];
        double pts[10];
        if (buf.size() - pos < sizeof(dims) + sizeof(pts)) {
            std::cerr << "error: truncated record header at byte " << pos << "\n";
            return 1;
        }
        std::memcpy(dims, buf.data() + pos, sizeof(dims));
        std::memcpy(pts, buf.data() + pos + sizeof(dims), sizeof(pts));
        pos += sizeof(dims) + sizeof(pts);
        const long w = dims[0], h = dims[1];
        if (w <= 0 || h <= 0 || buf.size() - pos < static_cast<size_t>(w * h * 3)) {
            std::cerr << "error: bad or truncated image " << w << "x" << h << "\n";
            return 1;
        }
        array2d<rgb_pixel> img(h, w);
        const unsigned char* p = buf.data() + pos;
        for (long r = 0; r < h; ++r)
            for (long c = 0; c < w; ++c, p += 3) img[r][c] = rgb_pixel(p[0], p[1], p[2]);
        pos += static_cast<size_t>(w * h * 3);
        // dlib's own 5-point template and chip rectangle (full_object_detection holds integer
        // points, so callers round theirs first)
        std::vector<point> parts;
        for (int i = 0; i < 5; ++i) parts.push_back(point(std::lround(pts[2 * i]), std::lround(pts[2 * i + 1])));
        const chip_details details = get_face_chip_details(
            full_object_detection(rectangle(0, 0, w - 1, h - 1), parts), size, padding);
        matrix<rgb_pixel> chip;
        extract_image_chip(img, details, chip);
        for (long r = 0; r < chip.nr(); ++r)
            for (long c = 0; c < chip.nc(); ++c) {
                const unsigned char px[3] = {chip(r, c).red, chip(r, c).green, chip(r, c).blue};
                std::fwrite(px, 1, 3, stdout);
            }
    }
    return std::fflush(stdout) == 0 ? 0 : 1;
}
static const size_t kChipBytes = kSize * kSize * 3;  // 67500

int main(int argc, char** argv) {
    const bool chips_wanted = argc == 4 && std::string(argv[1]) == "--chip";
    if (argc != 2 && !chips_wanted) {
        std::cerr << "usage: " << argv[0] << " MODEL.dat < chips.raw > descriptors.raw\n"
                  << "       " << argv[0] << " --chip SIZE PADDING < records.raw > chips.raw\n";
        return 2;
    }
    std::ios::sync_with_stdio(false);
    if (!std::freopen(nullptr, "rb", stdin) || !std::freopen(nullptr, "wb", stdout)) {
        std::cerr << "error: cannot set binary mode on stdin/stdout\n";
        return 1;
    }
    if (chips_wanted) return chip_mode(std::stoul(argv[2]), std::stod(argv[3]));

    std::vector<unsigned char> buf((std::istreambuf_iterator<char>(std::cin)),
                                   std::istreambuf_iterator<char>());
    if (buf.size() % kChipBytes != 0) {
        std::cerr << "error: input length " << buf.size()
                  << " is not a multiple of " << kChipBytes << " (150*150*3)\n";
        return 1;
    }
    const size_t n = buf.size() / kChipBytes;

    descriptor_net net;
    try {
        deserialize(argv[1]) >> net;
    } catch (std::exception& e) {
        std::cerr << "error: cannot load model " << argv[1] << ": " << e.what() << "\n";
        return 1;
    }

    std::vector<matrix<rgb_pixel>> chips(n);
    for (size_t i = 0; i < n; ++i) {
        const unsigned char* p = buf.data() + i * kChipBytes;
        chips[i].set_size(kSize, kSize);
        for (long r = 0; r < kSize; ++r)
            for (long c = 0; c < kSize; ++c, p += 3)
                chips[i](r, c) = rgb_pixel(p[0], p[1], p[2]);
    }

    std::vector<matrix<float, 0, 1>> descs;
    if (n > 0) descs = net(chips);

    for (const auto& d : descs) {
        for (long k = 0; k < d.size(); ++k) {
            float v = d(k);
            unsigned char b[4];
            std::memcpy(b, &v, 4);  // x86/ARM hosts are little-endian
            std::fwrite(b, 1, 4, stdout);
        }
    }
    if (std::fflush(stdout) != 0) {
        std::cerr << "error: write failed\n";
        return 1;
    }
    return 0;
}
