// Writes the built-in clip: H.264 (ITU-T H.264 7.3: SPS, PPS, one IDR slice of I_PCM macroblocks,
// P slices of skipped macroblocks) inside a minimal ISO BMFF file (ftyp, moov, mdat).
#include "mp4_clip.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

namespace fakeapi {
namespace {

constexpr std::uint32_t kWidth = 64;
constexpr std::uint32_t kHeight = 32;
constexpr std::uint32_t kFps = 10;
constexpr std::uint32_t kFrames = 20;  // two seconds
constexpr std::uint32_t kMbs = (kWidth / 16) * (kHeight / 16);
constexpr unsigned kLog2MaxFrameNum = 5;  // frame_num counts to 31: all 20 frames fit
constexpr unsigned char kProfile = 66;    // baseline
constexpr unsigned char kConstraints = 0xC0;  // constraint_set0+1: constrained baseline
constexpr unsigned char kLevel = 10;

// Exp-Golomb and fixed-width fields, most significant bit first.
class BitWriter {
public:
    void bits(std::uint32_t value, unsigned count) {
        for (unsigned i = count; i-- > 0;) {
            bit((value >> i) & 1U);
        }
    }
    void ue(std::uint32_t value) {
        const std::uint32_t v = value + 1;
        unsigned len = 0;
        while ((v >> len) > 1) {
            ++len;
        }
        bits(0, len);
        bits(v, len + 1);
    }
    void se(std::int32_t value) {
        ue(value > 0 ? static_cast<std::uint32_t>(2 * value - 1)
                     : static_cast<std::uint32_t>(-2 * value));
    }
    void align_zero() {
        while (used_ != 0) {
            bit(0);
        }
    }
    void byte(unsigned char b) { bits(b, 8); }
    // rbsp_trailing_bits: a stop bit, then zeros to the byte boundary.
    std::string finish() {
        bit(1);
        align_zero();
        return out_;
    }

private:
    void bit(unsigned b) {
        cur_ = static_cast<unsigned char>(cur_ << 1 | b);
        if (++used_ == 8) {
            out_ += static_cast<char>(cur_);
            cur_ = 0;
            used_ = 0;
        }
    }
    std::string out_;
    unsigned char cur_ = 0;
    unsigned used_ = 0;
};

// A NAL unit: header byte, then the payload with emulation prevention (no 00 00 0x, x <= 3).
std::string nal(unsigned ref_idc, unsigned type, std::string_view rbsp) {
    std::string out(1, static_cast<char>(ref_idc << 5 | type));
    int zeros = 0;
    for (const char c : rbsp) {
        const auto b = static_cast<unsigned char>(c);
        if (zeros >= 2 && b <= 3) {
            out += '\x03';
            zeros = 0;
        }
        out += c;
        zeros = b == 0 ? zeros + 1 : 0;
    }
    return out;
}

std::string sps() {
    BitWriter w;
    w.byte(kProfile);
    w.byte(kConstraints);
    w.byte(kLevel);
    w.ue(0);                     // seq_parameter_set_id
    w.ue(kLog2MaxFrameNum - 4);  // log2_max_frame_num_minus4
    w.ue(2);                     // pic_order_cnt_type: output order = decoding order
    w.ue(1);                     // max_num_ref_frames
    w.bits(0, 1);                // gaps_in_frame_num_value_allowed_flag
    w.ue(kWidth / 16 - 1);
    w.ue(kHeight / 16 - 1);
    w.bits(1, 1);  // frame_mbs_only_flag
    w.bits(1, 1);  // direct_8x8_inference_flag
    w.bits(0, 1);  // frame_cropping_flag
    w.bits(0, 1);  // vui_parameters_present_flag
    return nal(3, 7, w.finish());
}

std::string pps() {
    BitWriter w;
    w.ue(0);       // pic_parameter_set_id
    w.ue(0);       // seq_parameter_set_id
    w.bits(0, 1);  // entropy_coding_mode_flag: CAVLC
    w.bits(0, 1);  // bottom_field_pic_order_in_frame_present_flag
    w.ue(0);       // num_slice_groups_minus1
    w.ue(0);       // num_ref_idx_l0_default_active_minus1
    w.ue(0);       // num_ref_idx_l1_default_active_minus1
    w.bits(0, 1);  // weighted_pred_flag
    w.bits(0, 2);  // weighted_bipred_idc
    w.se(0);       // pic_init_qp_minus26
    w.se(0);       // pic_init_qs_minus26
    w.se(0);       // chroma_qp_index_offset
    w.bits(1, 1);  // deblocking_filter_control_present_flag
    w.bits(0, 1);  // constrained_intra_pred_flag
    w.bits(0, 1);  // redundant_pic_cnt_present_flag
    return nal(3, 8, w.finish());
}

unsigned char clamp_sample(double v) {
    return static_cast<unsigned char>(std::clamp(std::lround(v), 16L, 235L));
}

// The picture in 4:2:0: luma rises along the diagonal, the hue turns across the width.
struct Picture {
    std::vector<unsigned char> y, cb, cr;
};

Picture make_picture(std::uint64_t seed) {
    constexpr double kTau = 6.283185307179586;
    const double hue = static_cast<double>(seed % 360) / 360.0 * kTau;
    Picture p;
    for (std::uint32_t row = 0; row < kHeight; ++row) {
        for (std::uint32_t col = 0; col < kWidth; ++col) {
            p.y.push_back(clamp_sample(40.0 + 160.0 * (col + row) / (kWidth + kHeight)));
        }
    }
    for (std::uint32_t row = 0; row < kHeight / 2; ++row) {
        for (std::uint32_t col = 0; col < kWidth / 2; ++col) {
            const double a = hue + kTau * 0.5 * col / (kWidth / 2.0);
            p.cb.push_back(clamp_sample(128.0 + 90.0 * std::cos(a)));
            p.cr.push_back(clamp_sample(128.0 + 90.0 * std::sin(a) * (row + 4) / (kHeight / 2.0)));
        }
    }
    return p;
}

void put_block(BitWriter& w, const std::vector<unsigned char>& plane, std::uint32_t stride,
               std::uint32_t x0, std::uint32_t y0, std::uint32_t size) {
    for (std::uint32_t row = 0; row < size; ++row) {
        for (std::uint32_t col = 0; col < size; ++col) {
            w.byte(plane[(y0 + row) * stride + x0 + col]);
        }
    }
}

std::string idr_slice(std::uint64_t seed) {
    const Picture pic = make_picture(seed);
    BitWriter w;
    w.ue(0);                       // first_mb_in_slice
    w.ue(7);                       // slice_type: I (all slices of the picture)
    w.ue(0);                       // pic_parameter_set_id
    w.bits(0, kLog2MaxFrameNum);   // frame_num
    w.ue(0);                       // idr_pic_id
    w.bits(0, 1);                  // no_output_of_prior_pics_flag
    w.bits(0, 1);                  // long_term_reference_flag
    w.se(0);                       // slice_qp_delta
    w.ue(1);                       // disable_deblocking_filter_idc: off
    for (std::uint32_t mb = 0; mb < kMbs; ++mb) {
        const std::uint32_t mx = mb % (kWidth / 16);
        const std::uint32_t my = mb / (kWidth / 16);
        w.ue(25);  // mb_type I_PCM
        w.align_zero();
        put_block(w, pic.y, kWidth, mx * 16, my * 16, 16);
        put_block(w, pic.cb, kWidth / 2, mx * 8, my * 8, 8);
        put_block(w, pic.cr, kWidth / 2, mx * 8, my * 8, 8);
    }
    return nal(3, 5, w.finish());
}

// A P slice whose macroblocks are all skipped: the previous picture shown again.
std::string skip_slice(std::uint32_t frame_num) {
    BitWriter w;
    w.ue(0);  // first_mb_in_slice
    w.ue(5);  // slice_type: P (all slices of the picture)
    w.ue(0);  // pic_parameter_set_id
    w.bits(frame_num, kLog2MaxFrameNum);
    w.bits(0, 1);  // num_ref_idx_active_override_flag
    w.bits(0, 1);  // ref_pic_list_modification_flag_l0
    w.bits(0, 1);  // adaptive_ref_pic_marking_mode_flag
    w.se(0);       // slice_qp_delta
    w.ue(1);       // disable_deblocking_filter_idc
    w.ue(kMbs);    // mb_skip_run: the whole picture
    return nal(2, 1, w.finish());
}

void be16(std::string& out, std::uint32_t v) {
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}

void be32(std::string& out, std::uint32_t v) {
    be16(out, v >> 16);
    be16(out, v & 0xffff);
}

std::string box(std::string_view type, std::string_view payload) {
    std::string out;
    be32(out, static_cast<std::uint32_t>(8 + payload.size()));
    out += type;
    out += payload;
    return out;
}

// A "full box": version 0 and the given flags before the payload.
std::string full_box(std::string_view type, std::uint32_t flags, std::string_view payload) {
    std::string head;
    be32(head, flags & 0xffffff);
    return box(type, head + std::string(payload));
}

std::string matrix() {
    std::string out;
    for (const std::uint32_t v : {0x10000U, 0U, 0U, 0U, 0x10000U, 0U, 0U, 0U, 0x40000000U}) {
        be32(out, v);
    }
    return out;
}

constexpr std::uint32_t kMovieScale = 1000;
constexpr std::uint32_t kMovieDuration = kFrames * kMovieScale / kFps;

std::string mvhd() {
    std::string p;
    be32(p, 0);  // creation_time
    be32(p, 0);  // modification_time
    be32(p, kMovieScale);
    be32(p, kMovieDuration);
    be32(p, 0x10000);  // rate 1.0
    be16(p, 0x100);    // volume 1.0
    p += std::string(10, '\0');
    p += matrix();
    p += std::string(24, '\0');  // pre_defined
    be32(p, 2);                  // next_track_ID
    return full_box("mvhd", 0, p);
}

std::string tkhd() {
    std::string p;
    be32(p, 0);
    be32(p, 0);
    be32(p, 1);  // track_ID
    be32(p, 0);
    be32(p, kMovieDuration);
    p += std::string(8, '\0');
    be16(p, 0);  // layer
    be16(p, 0);  // alternate_group
    be16(p, 0);  // volume: not an audio track
    be16(p, 0);
    p += matrix();
    be32(p, kWidth << 16);
    be32(p, kHeight << 16);
    return full_box("tkhd", 3, p);  // enabled, in movie
}

std::string mdhd() {
    std::string p;
    be32(p, 0);
    be32(p, 0);
    be32(p, kFps);     // timescale: one tick per frame
    be32(p, kFrames);  // duration
    be16(p, 0x55C4);   // language "und"
    be16(p, 0);
    return full_box("mdhd", 0, p);
}

std::string hdlr() {
    std::string p;
    be32(p, 0);
    p += "vide";
    p += std::string(12, '\0');
    p += std::string("VideoHandler\0", 13);
    return full_box("hdlr", 0, p);
}

std::string avc1(const std::string& sps_nal, const std::string& pps_nal) {
    std::string cfg;
    cfg += '\x01';
    cfg += static_cast<char>(kProfile);
    cfg += static_cast<char>(kConstraints);
    cfg += static_cast<char>(kLevel);
    cfg += '\xFF';  // 4-byte NAL lengths
    cfg += '\xE1';  // one SPS
    be16(cfg, static_cast<std::uint32_t>(sps_nal.size()));
    cfg += sps_nal;
    cfg += '\x01';  // one PPS
    be16(cfg, static_cast<std::uint32_t>(pps_nal.size()));
    cfg += pps_nal;
    std::string p(6, '\0');
    be16(p, 1);  // data_reference_index
    p += std::string(16, '\0');
    be16(p, kWidth);
    be16(p, kHeight);
    be32(p, 0x480000);  // 72 dpi
    be32(p, 0x480000);
    be32(p, 0);
    be16(p, 1);  // frame_count
    std::string name(32, '\0');
    const std::string_view label = "genq-fakeapi";
    name[0] = static_cast<char>(label.size());
    std::copy(label.begin(), label.end(), name.begin() + 1);
    p += name;
    be16(p, 0x18);    // depth
    be16(p, 0xFFFF);  // pre_defined -1
    return box("avc1", p + box("avcC", cfg));
}

std::string stbl(const std::vector<std::string>& samples, std::uint32_t chunk_offset) {
    std::string stsd;
    be32(stsd, 1);
    stsd += avc1(sps(), pps());
    std::string stts;
    be32(stts, 1);
    be32(stts, kFrames);
    be32(stts, 1);
    std::string stss;
    be32(stss, 1);
    be32(stss, 1);  // only the first sample is a key frame
    std::string stsc;
    be32(stsc, 1);
    be32(stsc, 1);  // first_chunk
    be32(stsc, kFrames);
    be32(stsc, 1);
    std::string stsz;
    be32(stsz, 0);
    be32(stsz, kFrames);
    for (const auto& s : samples) {
        be32(stsz, static_cast<std::uint32_t>(s.size()));
    }
    std::string stco;
    be32(stco, 1);
    be32(stco, chunk_offset);
    return box("stbl", full_box("stsd", 0, stsd) + full_box("stts", 0, stts) +
                           full_box("stss", 0, stss) + full_box("stsc", 0, stsc) +
                           full_box("stsz", 0, stsz) + full_box("stco", 0, stco));
}

std::string moov(const std::vector<std::string>& samples, std::uint32_t chunk_offset) {
    std::string vmhd_payload(8, '\0');
    std::string dref;
    be32(dref, 1);
    dref += full_box("url ", 1, "");  // the data is in this file
    const std::string minf = box("minf", full_box("vmhd", 1, vmhd_payload) +
                                             box("dinf", full_box("dref", 0, dref)) +
                                             stbl(samples, chunk_offset));
    const std::string trak = box("trak", tkhd() + box("mdia", mdhd() + hdlr() + minf));
    return box("moov", mvhd() + trak);
}

std::string length_prefixed(const std::string& nal_unit) {
    std::string out;
    be32(out, static_cast<std::uint32_t>(nal_unit.size()));
    return out + nal_unit;
}

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace

std::string builtin_clip(std::uint64_t seed) {
    std::vector<std::string> samples;
    samples.push_back(length_prefixed(idr_slice(seed)));
    for (std::uint32_t i = 1; i < kFrames; ++i) {
        samples.push_back(length_prefixed(skip_slice(i)));
    }
    std::string ftyp;
    ftyp += "isom";
    be32(ftyp, 0x200);
    ftyp += "isomiso2avc1mp41";
    const std::string head = box("ftyp", ftyp);
    // The chunk offset has a fixed width, so a first pass gives the size of moov.
    const auto moov_size = moov(samples, 0).size();
    const auto offset = static_cast<std::uint32_t>(head.size() + moov_size + 8);
    std::string data;
    for (const auto& s : samples) {
        data += s;
    }
    return head + moov(samples, offset) + box("mdat", data);
}

std::string pad_mp4(std::string clip, std::uint64_t seed, std::size_t size) {
    if (clip.size() + 8 > size) {
        return clip;
    }
    const std::size_t payload = size - clip.size() - 8;
    std::string noise;
    noise.reserve(payload);
    std::uint64_t state = seed;
    while (noise.size() < payload) {
        const auto v = splitmix64(state);
        for (int b = 0; b < 8 && noise.size() < payload; ++b) {
            noise += static_cast<char>((v >> (8 * b)) & 0xff);
        }
    }
    return clip + box("free", noise);
}

}  // namespace fakeapi
