// The page is the wrapper document's browser example verbatim inside a minimal form.
#include "api/web_page.hpp"

namespace genq::api {

std::string_view web_page() {
    static constexpr std::string_view kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>genq: image to video</title>
<style>body { font-family: sans-serif; max-width: 48rem; margin: 2rem auto; }</style>
</head>
<body>
<h1>Image to video</h1>
<p>A 1024x576, 576x1024 or 768x768 PNG or JPEG.</p>
<input id="imageInput" type="file" accept="image/png,image/jpeg">
<button onclick="generateVideo()">Generate</button>
<div id="status"></div>
<script>
async function generateVideo() {
  const imageInput = document.getElementById('imageInput');
  const statusDiv = document.getElementById('status');

  if (!imageInput.files.length) {
    statusDiv.innerHTML = 'Please select an image file';
    return;
  }

  // Create form data
  const formData = new FormData();
  formData.append('image', imageInput.files[0]);
  formData.append('seed', 0); // Use random seed
  formData.append('cfg_scale', 1.5); // Default value
  formData.append('motion_bucket_id', 127); // Default value

  statusDiv.innerHTML = 'Starting video generation...';

  try {
    // Start generation
    const response = await fetch('/api/img2video', {
      method: 'POST',
      body: formData
    });

    if (!response.ok) {
      const error = await response.json();
      throw new Error(error.error || 'Unknown error');
    }

    const data = await response.json();
    const generationId = data.id;

    statusDiv.innerHTML = `Generation started with ID: ${generationId}<br>Polling for results...`;

    // Poll for results
    const maxAttempts = 120; // 10 minutes at 5-second intervals
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      // Wait 5 seconds between checks
      await new Promise(resolve => setTimeout(resolve, 5000));

      statusDiv.innerHTML = `Checking status... (attempt ${attempt+1}/${maxAttempts})`;

      const resultResponse = await fetch(`/api/img2video/result/${generationId}`);

      if (resultResponse.status === 202) {
        // Still in progress
        continue;
      }

      if (resultResponse.status === 200) {
        // Complete
        const result = await resultResponse.json();
        statusDiv.innerHTML = `
          <p>Video generation complete!</p>
          <video controls src="${result.video_url}" style="max-width: 100%;"></video>
          <p>Finish reason: ${result.finish_reason}</p>
          <p>Seed: ${result.seed}</p>
        `;
        break;
      }

      // Error
      const error = await resultResponse.json();
      throw new Error(error.error || 'Unknown error');
    }
  } catch (error) {
    statusDiv.innerHTML = `Error: ${error.message}`;
  }
}
</script>
</body>
</html>
)PAGE";
    return kPage;
}

}  // namespace genq::api
