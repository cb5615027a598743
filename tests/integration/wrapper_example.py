import requests
import time
import os

# API endpoint to start generation
upload_url = "http://your-website.com/api/img2video"

# Path to image file
image_path = "path/to/your/image.jpg"

# Optional parameters
params = {
    "seed": 0,  # random seed
    "cfg_scale": 1.5,  # default value
    "motion_bucket_id": 127  # default value
}

# Prepare the file for upload
files = {
    "image": (os.path.basename(image_path), open(image_path, "rb"))
}

# Start generation
response = requests.post(upload_url, files=files, data=params)
generation_data = response.json()

if not response.ok:
    print(f"Error starting generation: {generation_data.get('error')}")
    exit(1)

# Get the generation ID
generation_id = generation_data["id"]
print(f"Generation started with ID: {generation_id}")

# Poll for results
result_url = f"http://your-website.com/api/img2video/result/{generation_id}"

# Poll every 5 seconds for up to 10 minutes
max_attempts = 120
for attempt in range(max_attempts):
    print(f"Checking status... (attempt {attempt+1}/{max_attempts})")
    response = requests.get(result_url)
    
    if response.status_code == 202:
        # Still in progress
        time.sleep(5)
        continue
    
    if response.status_code == 200:
        # Complete
        result = response.json()
        print(f"Video generation complete!")
        print(f"Video URL: http://your-website.com{result['video_url']}")
        print(f"Finish reason: {result['finish_reason']}")
        print(f"Seed: {result['seed']}")
        break
    
    # Error
    print(f"Error checking status: {response.text}")
    break
else:
    print("Generation timed out after 10 minutes")
