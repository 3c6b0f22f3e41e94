// server/pch.hpp — precompiled header for the heavy Asio/Beast/SSL includes.
// Only server/ uses it; keep it out of every other folder's headers.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
