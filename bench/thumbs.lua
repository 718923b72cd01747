-- wrk: each request a thumbnail of the 5-minute 720p file at a random time.
math.randomseed(os.time())
request = function()
  local t = string.format("%.2f", math.random() * 290)
  return wrk.format("GET", "/thumb?url=http%3A%2F%2F127.0.0.1%3A18080%2F720p-5min.mp4&time=" .. t)
end
