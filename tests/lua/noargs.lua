-- main(args) gets an empty table when no argument follows the script.
function main(args)
  assert(type(args) == "table" and #args == 0 and next(args) == nil)
  print("ok")
end
