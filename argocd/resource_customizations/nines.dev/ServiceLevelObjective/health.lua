-- Argo CD health check for nines ServiceLevelObjectives (nines.dev/v1alpha1), see docs/argocd.md.
-- Progressing until the operator has observed the current generation; Degraded when the spec is
-- invalid or the operator cannot apply what it generates (Ready=False, with Ready's message);
-- otherwise Healthy, with the objective's state in the message. A burning or spent error budget is
-- news about the service, not a broken deployment, so it never turns the Application red.
-- Only Lua's base library is used: Argo CD runs a check from argocd-cm without string or math.
local hs = {}

local function condition(kind)
  if obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- x rounded to 1 / scale, as text: 53.24 -> "53.2", -12.5 -> "-12.5", 100 -> "100".
local function round(x, scale)
  local y = x * scale + 0.5
  return tostring((y - y % 1) / scale)
end

local function budget()
  local b = obj.status.errorBudget
  if b ~= nil and type(b.remaining) == "number" then
    return round(b.remaining, 10) .. "%"
  end
  return nil
end

local function rate(x)
  if type(x) == "number" then
    return " " .. round(x, 100) .. "x"
  end
  return ""
end

-- Why the operator cannot judge the budget yet: the message of the first condition it set to
-- Unknown (BudgetExhausted, FastBurn and SlowBurn carry it, e.g. Prometheus cannot be reached).
local function unknown_because()
  for _, c in ipairs(obj.status.conditions) do
    if c.status == "Unknown" and c.message ~= nil and c.message ~= "" then
      return c.message
    end
  end
  return nil
end

local function held(kind)
  local c = condition(kind)
  return c ~= nil and c.status == "True"
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if obj.status == nil or obj.status.observedGeneration == nil
    or (generation ~= nil and obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  else
    hs.message = "Waiting for the operator"
  end
  return hs
end

local ready = condition("Ready")
local state = obj.status.state
if state == "Invalid" or (ready ~= nil and ready.status == "False") then
  hs.status = "Degraded"
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = ready.message
  elseif ready ~= nil and ready.reason ~= nil and ready.reason ~= "" then
    hs.message = ready.reason
  else
    hs.message = "The spec is invalid"
  end
  return hs
end

if ready == nil or ready.status ~= "True" then
  hs.status = "Progressing"
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = ready.message
  else
    hs.message = "Waiting for the operator to report Ready"
  end
  return hs
end

hs.status = "Healthy"
local left = budget()
if state == "Healthy" then
  if left ~= nil then
    hs.message = "Healthy: budget " .. left .. " left"
  else
    hs.message = "Healthy"
  end
elseif state == "Burning" then
  local burn = ""
  if held("FastBurn") then
    burn = "fast burn" .. rate(obj.status.fastBurnRate)
  elseif held("SlowBurn") then
    burn = "slow burn" .. rate(obj.status.slowBurnRate)
  end
  if left ~= nil then
    if burn ~= "" then
      burn = burn .. ", "
    end
    burn = burn .. "budget " .. left .. " left"
  end
  if burn == "" then
    hs.message = "Burning"
  else
    hs.message = "Burning: " .. burn
  end
elseif state == "Exhausted" then
  if left ~= nil then
    hs.message = "Exhausted: error budget spent (" .. left .. " left)"
  else
    hs.message = "Exhausted: error budget spent"
  end
elseif state == "NoData" then
  hs.message = "NoData: " .. (unknown_because() or "no numbers from Prometheus yet")
elseif state == "Pending" then
  hs.message = "Pending: "
    .. (unknown_because() or "rules applied, waiting for the first numbers from Prometheus")
elseif ready.message ~= nil and ready.message ~= "" then
  hs.message = ready.message
else
  hs.message = "Ready"
end
return hs
